#include "store/thread_priority.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/resource.h>
#include <unistd.h>

namespace store {

int this_thread_nice() {
    errno = 0;  // -1 is a valid nice value; errno tells an error from it
    const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    return errno == 0 ? nice : 0;
}

void lower_this_thread(int increment) {
    if (increment <= 0) return;
    const int nice = std::min(this_thread_nice() + increment, 19);
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
}

}  // namespace store
