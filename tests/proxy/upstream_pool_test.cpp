#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/connection.hpp"
#include "proxy/upstream/pool.hpp"

using proxy::upstream::Connection;
using proxy::upstream::Pool;
using proxy::upstream::PoolLimits;

namespace {

// An unconnected connection: the pool only files and ages connections, it never uses them.
std::unique_ptr<Connection> connection(boost::asio::io_context& io, std::string key) {
    return std::make_unique<Connection>(std::move(key),
                                        std::make_unique<boost::beast::tcp_stream>(io));
}

}  // namespace

TEST_CASE("a connection given to the pool is taken back for its origin only", "[upstream][pool]") {
    boost::asio::io_context io;
    Pool pool;
    CHECK(pool.take("http://a") == nullptr);

    auto given = connection(io, "http://a");
    const Connection* address = given.get();
    pool.give(std::move(given));
    CHECK(pool.take("http://b") == nullptr);
    auto taken = pool.take("http://a");
    CHECK(taken.get() == address);
    CHECK(pool.take("http://a") == nullptr);
}

TEST_CASE("the most recently idled connection is taken first", "[upstream][pool]") {
    boost::asio::io_context io;
    Pool pool;
    auto first = connection(io, "http://a");
    auto second = connection(io, "http://a");
    const Connection* second_address = second.get();
    pool.give(std::move(first));
    pool.give(std::move(second));
    CHECK(pool.take("http://a").get() == second_address);
    CHECK(pool.take("http://a") != nullptr);
}

TEST_CASE("an origin keeps at most max_idle_per_origin idle connections", "[upstream][pool]") {
    boost::asio::io_context io;
    Pool pool(PoolLimits{3, std::chrono::hours(1)});
    for (int i = 0; i < 5; ++i) {
        pool.give(connection(io, "http://a"));
    }
    pool.give(connection(io, "http://b"));
    int taken = 0;
    while (pool.take("http://a")) {
        ++taken;
    }
    CHECK(taken == 3);
    CHECK(pool.take("http://b") != nullptr);
}

TEST_CASE("a connection idle for longer than max_idle_age is not taken", "[upstream][pool]") {
    boost::asio::io_context io;
    Pool pool(PoolLimits{16, std::chrono::milliseconds(1)});
    pool.give(connection(io, "http://a"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(pool.take("http://a") == nullptr);
}

TEST_CASE("a connection is stamped idle when given to the pool", "[upstream][pool]") {
    boost::asio::io_context io;
    Pool pool;
    const auto before = Connection::Clock::now();
    pool.give(connection(io, "http://a"));
    const auto taken = pool.take("http://a");
    REQUIRE(taken);
    CHECK(taken->idle_since() >= before);
    CHECK(taken->key() == "http://a");
    CHECK_FALSE(taken->is_tls());
}
