#include "store/thread_priority.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/resource.h>
#include <tuple>
#include <unistd.h>

namespace store {

namespace {

// The calling thread's nice value, or nothing when it cannot be read.
std::optional<int> read_nice() {
    errno = 0;  // -1 is a valid nice value; errno tells an error from it
    const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    if (errno != 0) return std::nullopt;
    return nice;
}

}  // namespace

int this_thread_nice() {
    return read_nice().value_or(0);
}

void lower_this_thread(int increment) {
    if (increment <= 0) return;
    const std::optional<int> nice = read_nice();
    if (!nice) return;  // a thread whose priority cannot be read is left as it is
    std::ignore =
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), std::min(*nice + increment, 19));
}

}  // namespace store
