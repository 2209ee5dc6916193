#include <exception>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/pooled_response.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using proxy::upstream::Connection;
using proxy::upstream::Parser;
using proxy::upstream::Pool;
using proxy::upstream::PooledResponse;

constexpr auto k_use = net::as_tuple(net::use_awaitable);
constexpr const char* k_key = "http://peer";

template <class F>
void run(net::io_context& io, F&& test) {
    std::exception_ptr failure;
    net::co_spawn(io, std::forward<F>(test), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

// A connection whose peer has written `wire` and keeps its end open; the answer's header is
// read, as the client does before it makes a response.
struct Wired {
    tcp::socket peer;
    std::unique_ptr<PooledResponse> response;
};

net::awaitable<Wired> wire(std::shared_ptr<Pool> pool, const std::string& bytes,
                           bool head = false) {
    auto executor = co_await net::this_coro::executor;
    tcp::acceptor acceptor(executor, {net::ip::make_address("127.0.0.1"), 0});
    auto stream = std::make_unique<beast::tcp_stream>(executor);
    auto [connect_ec] = co_await stream->async_connect(acceptor.local_endpoint(), k_use);
    REQUIRE_FALSE(connect_ec);
    auto [accept_ec, peer] = co_await acceptor.async_accept(k_use);
    REQUIRE_FALSE(accept_ec);
    auto [write_ec, written] = co_await net::async_write(peer, net::buffer(bytes), k_use);
    REQUIRE_FALSE(write_ec);

    auto connection = std::make_unique<Connection>(k_key, std::move(stream));
    auto parser = std::make_unique<Parser>();
    parser->body_limit(boost::none);
    if (head) {
        parser->skip(true);
    }
    auto [read_ec, read] = co_await connection->with_stream(
        [&](auto& s) { return http::async_read_header(s, connection->buffer(), *parser, k_use); });
    REQUIRE_FALSE(read_ec);
    co_return Wired{std::move(peer), std::make_unique<PooledResponse>(
                                         std::move(pool), std::move(connection), std::move(parser),
                                         std::chrono::seconds(2), head)};
}

net::awaitable<std::string> read_all(PooledResponse& response) {
    std::string text;
    char buffer[3];
    while (true) {
        auto [ec, n] = co_await response.read_some(net::buffer(buffer));
        REQUIRE_FALSE(ec);
        if (n == 0) {
            co_return text;
        }
        text.append(buffer, n);
    }
}

}  // namespace

TEST_CASE("a body read to its end hands a kept-alive connection back to the pool",
          "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
        CHECK(wired.response->status() == 200);
        CHECK(wired.response->content_length() == 10);
        CHECK(pool->take(k_key) == nullptr);
        const auto body = co_await read_all(*wired.response);
        CHECK(body == "0123456789");
        CHECK(pool->take(k_key) != nullptr);
    });
}

TEST_CASE("a chunked body arrives whole and has no length", "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool,
                                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
        CHECK_FALSE(wired.response->content_length());
        const auto body = co_await read_all(*wired.response);
        CHECK(body == "abcdefg");
        CHECK(pool->take(k_key) != nullptr);
    });
}

TEST_CASE("a connection the server closes after the answer is not pooled", "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(
            pool, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        const auto body = co_await read_all(*wired.response);
        CHECK(body == "ok");
        CHECK(pool->take(k_key) == nullptr);
    });
}

TEST_CASE("a connection with bytes past the answer is not pooled", "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
        CHECK(wired.response->status() == 204);
        CHECK(pool->take(k_key) == nullptr);
    });
}

TEST_CASE("an answer without a body hands its connection back at once", "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        CHECK(wired.response->status() == 404);
        CHECK(pool->take(k_key) != nullptr);
        char buffer[8];
        auto [ec, n] = co_await wired.response->read_some(net::buffer(buffer));
        CHECK_FALSE(ec);
        CHECK(n == 0);
    });
}

TEST_CASE("a HEAD answer's length is the Content-Length header, with no body to read",
          "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n", true);
        CHECK(wired.response->content_length() == 12345);
        CHECK(pool->take(k_key) != nullptr);
    });
}

TEST_CASE("a body cut short is an error for this read and every later one",
          "[upstream][response]") {
    net::io_context io;
    auto pool = std::make_shared<Pool>();
    run(io, [&]() -> net::awaitable<void> {
        auto wired = co_await wire(pool, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        wired.peer.close();
        char buffer[64];
        error_code first;
        std::size_t total = 0;
        while (!first) {
            auto [ec, n] = co_await wired.response->read_some(net::buffer(buffer));
            first = ec;
            total += n;
            if (!ec && n == 0) {
                break;
            }
        }
        CHECK(first);
        CHECK(total == 3);
        auto [again, n] = co_await wired.response->read_some(net::buffer(buffer));
        CHECK(again == first);
        CHECK(n == 0);
        CHECK(pool->take(k_key) == nullptr);
    });
}
