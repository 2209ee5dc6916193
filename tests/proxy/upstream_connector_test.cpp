#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/connector.hpp"
#include "proxy/upstream/upstream_error.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using proxy::upstream::Connector;
using proxy::upstream::Error;
using proxy::upstream::Origin;

constexpr auto k_use = net::as_tuple(net::use_awaitable);

template <class F>
void run(net::io_context& io, F&& test) {
    std::exception_ptr failure;
    net::co_spawn(io, std::forward<F>(test), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

config::UpstreamConfig make_config() {
    config::UpstreamConfig config;
    config.name = "test";
    config.connect_timeout = std::chrono::seconds(2);
    return config;
}

}  // namespace

TEST_CASE("a plain connection to a listening origin is filed under the origin's key",
          "[upstream][connector]") {
    net::io_context io;
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    Connector connector(io.get_executor(), make_config());
    run(io, [&]() -> net::awaitable<void> {
        const Origin origin{false, "127.0.0.1", port};
        auto connection = co_await connector.connect(origin);
        REQUIRE(connection.has_value());
        CHECK((*connection)->key() == "http://127.0.0.1:" + std::to_string(port));
        CHECK_FALSE((*connection)->is_tls());
        CHECK((*connection)->tcp().socket().remote_endpoint().port() == port);
        auto [ec, peer] = co_await acceptor.async_accept(k_use);
        CHECK_FALSE(ec);
    });
}

TEST_CASE("a connection to a port nobody listens on is the network's error",
          "[upstream][connector]") {
    std::uint16_t port = 0;
    {
        net::io_context io;
        tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
        port = acceptor.local_endpoint().port();
    }
    net::io_context io;
    Connector connector(io.get_executor(), make_config());
    run(io, [&]() -> net::awaitable<void> {
        const Origin origin{false, "127.0.0.1", port};
        auto connection = co_await connector.connect(origin);
        REQUIRE(connection.has_error());
        CHECK(connection.error() == net::error::connection_refused);
    });
}

TEST_CASE("https with an unreadable ca_file fails before connecting, every time",
          "[upstream][connector]") {
    net::io_context io;
    auto config = make_config();
    config.ca_file = "/nonexistent/envcache-ca.pem";
    Connector connector(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        // Port 9 on a TEST-NET address: a connection attempt would hang, not fail at once.
        for (int i = 0; i < 2; ++i) {
            const Origin origin{true, "192.0.2.1", 9};
            auto connection = co_await connector.connect(origin);
            REQUIRE(connection.has_error());
            CHECK(connection.error() == Error::bad_ca_file);
        }
    });
}

TEST_CASE("plain http does not need the ca_file", "[upstream][connector]") {
    net::io_context io;
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    auto config = make_config();
    config.ca_file = "/nonexistent/envcache-ca.pem";
    Connector connector(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        const Origin origin{false, "127.0.0.1", acceptor.local_endpoint().port()};
        auto connection = co_await connector.connect(origin);
        CHECK(connection.has_value());
    });
}
