#pragma once
// Helpers for tests that run a proxy::server::Server on a thread of their own.

#include <chrono>
#include <cstddef>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "proxy/server/server.hpp"

namespace proxy::test {

// Waits, for at most 10 s, until `server` has `count` connections open; returns whether it has.
inline bool wait_for_connections(const server::Server& server, std::size_t count) {
    for (int i = 0; i < 1000 && server.connections() != count; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return server.connections() == count;
}

// Stops `server`, ends its connections (waiting for them, boundedly), then stops `ioc` and
// joins `thread`, which runs it.
inline void shut_down(server::Server& server, boost::asio::io_context& ioc, std::thread& thread) {
    server.stop();
    server.close_all();
    wait_for_connections(server, 0);
    ioc.stop();
    thread.join();
}

}  // namespace proxy::test
