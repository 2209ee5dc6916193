#include <algorithm>
#include <cstring>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/response_body.hpp"
#include "proxy/upstream/upstream_error.hpp"

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using proxy::upstream::discard_body;
using proxy::upstream::Error;
using proxy::upstream::k_drain_limit;
using proxy::upstream::read_body;
using proxy::upstream::Response;

template <class F>
void run(F&& test) {
    net::io_context io;
    std::exception_ptr failure;
    net::co_spawn(io, std::forward<F>(test), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

// A response that yields `body` in pieces of at most `piece` bytes, then `end` (no error: the
// end of the body). It counts the bytes it was asked to give.
class ScriptedResponse final : public Response {
  public:
    ScriptedResponse(std::string body, std::size_t piece, std::optional<std::uint64_t> length,
                     error_code end = {})
        : m_body(std::move(body)), m_piece(piece), m_length(length), m_end(end) {}

    unsigned status() const override { return 200; }
    const http::fields& headers() const override { return m_headers; }
    std::optional<std::uint64_t> content_length() const override { return m_length; }
    net::awaitable<std::pair<error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) override {
        const std::size_t n = std::min({m_piece, buffer.size(), m_body.size() - m_given});
        if (n == 0) {
            co_return std::pair{m_end, std::size_t{0}};
        }
        std::memcpy(buffer.data(), m_body.data() + m_given, n);
        m_given += n;
        co_return std::pair{error_code{}, n};
    }

    std::size_t given() const { return m_given; }

  private:
    http::fields m_headers;
    std::string m_body;
    std::size_t m_piece;
    std::optional<std::uint64_t> m_length;
    error_code m_end;
    std::size_t m_given = 0;
};

}  // namespace

TEST_CASE("read_body gathers every piece", "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        const std::string text(20'000, 'x');
        ScriptedResponse response(text, 777, std::nullopt);
        const auto body = co_await read_body(response, text.size());
        REQUIRE(body);
        CHECK(*body == text);
    });
}

TEST_CASE("read_body refuses a body over its limit", "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        ScriptedResponse response(std::string(101, 'x'), 10, std::nullopt);
        const auto body = co_await read_body(response, 100);
        REQUIRE_FALSE(body);
        CHECK(body.error() == Error::body_too_large);
    });
}

TEST_CASE("read_body gives the read's error", "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        ScriptedResponse response("abc", 2, std::nullopt, http::error::partial_message);
        const auto body = co_await read_body(response, 100);
        REQUIRE_FALSE(body);
        CHECK(body.error() == http::error::partial_message);
    });
}

TEST_CASE("discard_body drains a small body to its end", "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        ScriptedResponse response(std::string(k_drain_limit, 'x'), 1000, k_drain_limit);
        co_await discard_body(response);
        CHECK(response.given() == k_drain_limit);
    });
}

TEST_CASE("discard_body leaves a body announced as large unread", "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        ScriptedResponse response(std::string(k_drain_limit + 1, 'x'), 1000, k_drain_limit + 1);
        co_await discard_body(response);
        CHECK(response.given() == 0);
    });
}

TEST_CASE("discard_body stops soon after the limit when no length was announced",
          "[upstream][body]") {
    run([]() -> net::awaitable<void> {
        ScriptedResponse response(std::string(10 * k_drain_limit, 'x'), 1000, std::nullopt);
        co_await discard_body(response);
        CHECK(response.given() > k_drain_limit);
        CHECK(response.given() <= k_drain_limit + 1000);
    });
}
