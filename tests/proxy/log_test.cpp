// The access log never makes a request wait for stderr.

#include "proxy/log.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <future>
#include <poll.h>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

TEST_CASE("access lines never wait for a stderr that takes nothing, and drops are counted",
          "[proxy][log]") {
    // A write still under way into the pipe when it is closed at the end fails instead of
    // ending the test process.
    std::signal(SIGPIPE, SIG_IGN);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    std::fflush(stderr);
    const int saved = ::dup(2);
    REQUIRE(saved >= 0);
    REQUIRE(::dup2(pipe_fds[1], 2) == 2);

    // 22 MB of access lines into a pipe nobody reads yet (it holds 64 KiB): more than the log
    // holds however late the flusher takes its first batch (that batch and the lines held
    // beside it are at most 8 MiB each), so some are dropped.
    const std::string line(99, 'a');
    auto logging = std::async(std::launch::async, [&line] {
        for (int i = 0; i < 220'000; ++i)
            proxy::log_access(line);
    });
    const bool returned = logging.wait_for(10s) == std::future_status::ready;

    // Now read: the flusher's writes go on, and one of them says how many lines were dropped.
    std::string tail;
    bool dropped_reported = false;
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!dropped_reported && std::chrono::steady_clock::now() < end) {
        pollfd readable{pipe_fds[0], POLLIN, 0};
        if (::poll(&readable, 1, 100) <= 0) continue;
        char buffer[65536];
        const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        tail.append(buffer, static_cast<std::size_t>(n));
        dropped_reported = tail.find("access lines dropped") != std::string::npos;
        if (tail.size() > 4096) tail.erase(0, tail.size() - 4096);
    }
    REQUIRE(::dup2(saved, 2) == 2);
    ::close(saved);
    ::close(pipe_fds[1]);
    // Whatever the flusher still writes now goes to the real stderr; the pipe is drained.
    const int flags = ::fcntl(pipe_fds[0], F_GETFL);
    ::fcntl(pipe_fds[0], F_SETFL, flags | O_NONBLOCK);
    char sink[65536];
    while (::read(pipe_fds[0], sink, sizeof sink) > 0) {
    }
    ::close(pipe_fds[0]);
    logging.wait();

    CHECK(returned);
    CHECK(dropped_reported);
}
