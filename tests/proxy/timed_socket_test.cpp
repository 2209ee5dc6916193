// TimedSocket: reads, writes and waits bounded by a deadline set before them, with one
// watchdog timer per socket. Over a loopback connection; every run of the io_context is bounded.

#include "proxy/server/timed_socket.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <catch2/catch.hpp>

namespace net = boost::asio;
using net::ip::tcp;
using proxy::server::TimedSocket;
using namespace std::chrono_literals;

namespace {

// A connected pair on loopback: `timed` (the side under test) and `peer` (a plain socket).
struct Pair {
    net::io_context io;
    std::optional<TimedSocket> timed;
    tcp::socket peer{io};

    Pair() {
        tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
        peer.connect(acceptor.local_endpoint());
        timed.emplace(acceptor.accept());
    }
};

struct Outcome {
    bool done = false;
    boost::system::error_code ec;
    std::size_t bytes = 0;
};

// Runs `io` until `outcome` is done, for at most `limit`.
void run_until(net::io_context& io, const Outcome& outcome, std::chrono::seconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!outcome.done && std::chrono::steady_clock::now() < end) {
        io.run_for(50ms);
        io.restart();
    }
}

void start_read(TimedSocket& socket, std::string& buffer, Outcome& outcome) {
    buffer.assign(16, '\0');
    socket.async_read_some(net::buffer(buffer),
                           [&outcome](boost::system::error_code ec, std::size_t n) {
                               outcome = {true, ec, n};
                           });
}

// Starts a read on the timed side and runs until it completes (for at most 10 s).
Outcome read_once(Pair& pair, std::string& buffer) {
    Outcome read;
    start_read(*pair.timed, buffer, read);
    run_until(pair.io, read);
    return read;
}

// The peer sends `text`; the timed side reads it within `timeout`, which arms its watchdog.
void read_sent(Pair& pair, const std::string& text, std::chrono::steady_clock::duration timeout) {
    net::write(pair.peer, net::buffer(text));
    pair.timed->expires_after(timeout);
    std::string buffer;
    const Outcome read = read_once(pair, buffer);
    REQUIRE(read.done);
    REQUIRE_FALSE(read.ec);
    REQUIRE(buffer.substr(0, read.bytes) == text);
}

// Writes into the timed side's socket until it takes no more; returns the bytes it took.
std::size_t fill(TimedSocket& socket) {
    socket.socket().non_blocking(true);
    const std::string block(256 * 1024, 'w');
    std::size_t queued = 0;
    for (int i = 0; i < 1024; ++i) {
        boost::system::error_code ec;
        queued += socket.socket().write_some(net::buffer(block), ec);
        if (ec == net::error::would_block) return queued;
        REQUIRE_FALSE(ec);
    }
    FAIL("the socket never filled");
    return queued;
}

}  // namespace

TEST_CASE("a read pending when the deadline passes ends with a timeout and closes the socket",
          "[proxy][timed_socket]") {
    Pair pair;
    pair.timed->expires_after(100ms);
    std::string buffer;
    const Outcome read = read_once(pair, buffer);
    REQUIRE(read.done);
    CHECK(read.ec == boost::beast::error::timeout);
    CHECK_FALSE(pair.timed->socket().is_open());
}

TEST_CASE("a read started after the deadline fails at once without reading",
          "[proxy][timed_socket]") {
    Pair pair;
    net::write(pair.peer, net::buffer(std::string("ready")));
    pair.timed->expires_at(TimedSocket::Clock::now() - 1s);
    std::string buffer;
    Outcome read;
    start_read(*pair.timed, buffer, read);
    CHECK_FALSE(read.done);  // never inside the call that started it
    run_until(pair.io, read);
    REQUIRE(read.done);
    CHECK(read.ec == boost::beast::error::timeout);
    CHECK(read.bytes == 0);
}

TEST_CASE("a deadline that passes while nothing is pending ends nothing", "[proxy][timed_socket]") {
    Pair pair;
    read_sent(pair, "one", 100ms);  // arms the watchdog
    // The watchdog fires with nothing pending (a handler waiting on something else).
    Outcome idle;
    net::steady_timer wait(pair.io, 300ms);
    wait.async_wait([&idle](boost::system::error_code ec) { idle = {true, ec, 0}; });
    run_until(pair.io, idle);
    REQUIRE(idle.done);
    CHECK(pair.timed->socket().is_open());
    // A new deadline, and the connection carries on.
    read_sent(pair, "two", 10s);
}

TEST_CASE("a deadline earlier than the armed one still bounds the next read",
          "[proxy][timed_socket]") {
    Pair pair;
    read_sent(pair, "x", 1h);  // arms the watchdog an hour ahead
    // A short deadline now: the watchdog must be brought forward, or the read waits an hour.
    pair.timed->expires_after(100ms);
    std::string buffer;
    const Outcome read = read_once(pair, buffer);
    REQUIRE(read.done);
    CHECK(read.ec == boost::beast::error::timeout);
}

TEST_CASE("a write to a peer that stops reading ends with a timeout", "[proxy][timed_socket]") {
    Pair pair;
    pair.timed->expires_after(200ms);
    const std::string block(64 * 1024 * 1024, 'b');  // far more than the socket buffers hold
    Outcome write;
    net::async_write(*pair.timed, net::buffer(block),
                     [&write](boost::system::error_code ec, std::size_t n) {
                         write = {true, ec, n};
                     });
    run_until(pair.io, write);
    REQUIRE(write.done);
    CHECK(write.ec == boost::beast::error::timeout);
    CHECK(write.bytes < block.size());
}

TEST_CASE("a wait for room ends with a timeout while the peer reads nothing",
          "[proxy][timed_socket]") {
    Pair pair;
    fill(*pair.timed);
    pair.timed->expires_after(100ms);
    Outcome wait;
    pair.timed->async_wait(net::socket_base::wait_write, [&wait](boost::system::error_code ec) {
        wait = {true, ec, 0};
    });
    run_until(pair.io, wait);
    REQUIRE(wait.done);
    CHECK(wait.ec == boost::beast::error::timeout);
}

TEST_CASE("a wait for room completes once the peer reads", "[proxy][timed_socket]") {
    Pair pair;
    const std::size_t queued = fill(*pair.timed);
    pair.timed->expires_after(10s);
    Outcome wait;
    pair.timed->async_wait(net::socket_base::wait_write, [&wait](boost::system::error_code ec) {
        wait = {true, ec, 0};
    });
    std::vector<char> sink(queued);
    net::read(pair.peer, net::buffer(sink));  // everything queued, so the socket has room
    run_until(pair.io, wait);
    REQUIRE(wait.done);
    CHECK_FALSE(wait.ec);
}

TEST_CASE("cancel ends a pending read as aborted, not timed out", "[proxy][timed_socket]") {
    Pair pair;
    pair.timed->expires_after(1h);
    std::string buffer;
    Outcome read;
    start_read(*pair.timed, buffer, read);
    pair.timed->cancel();
    run_until(pair.io, read);
    REQUIRE(read.done);
    CHECK(read.ec == net::error::operation_aborted);
    CHECK(pair.timed->socket().is_open());
}

TEST_CASE("a socket destroyed while its watchdog is armed leaves nothing behind",
          "[proxy][timed_socket]") {
    Pair pair;
    read_sent(pair, "x", 1h);
    pair.timed.reset();  // the watchdog's wait is still pending
    // Its handler runs, finds the socket gone, and releases the state (ASan checks the rest).
    pair.io.restart();
    pair.io.run_for(1s);
    CHECK(pair.io.stopped());
    // The peer sees the connection closed.
    char byte = 0;
    boost::system::error_code ec;
    CHECK(pair.peer.read_some(net::buffer(&byte, 1), ec) == 0);
    CHECK(ec == net::error::eof);
}
