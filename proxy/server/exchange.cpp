#include "proxy/server/exchange.hpp"

#include <array>
#include <span>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/server/response_head.hpp"

namespace proxy::server {

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);

// Writes all of `buffers` within the exchange's write timeout; false (and the connection is
// not kept) on an error.
template <class Buffers>
net::awaitable<bool> write_all(Exchange& ex, const Buffers& buffers) {
    ex.stream.expires_after(ex.write_timeout);
    auto [ec, n] = co_await net::async_write(ex.stream, buffers, k_token);
    if (ec) ex.keep_alive = false;
    co_return !ec;
}

// The buffers of one write, empty ones left out: a stream may report an empty first buffer
// as a write of nothing, which async_write takes for the end (Beast's flat_stream under TLS).
class Pieces {
  public:
    void add(std::string_view bytes) {
        if (!bytes.empty()) m_buffers[m_count++] = net::buffer(bytes.data(), bytes.size());
    }
    std::span<const net::const_buffer> span() const { return {m_buffers.data(), m_count}; }

  private:
    std::array<net::const_buffer, 4> m_buffers;
    std::size_t m_count = 0;
};

}  // namespace

net::awaitable<void> send_response(Exchange& ex, http::status status, const http::fields& headers,
                                   std::string_view body) {
    ex.status = static_cast<unsigned>(status);
    // Head and body in one buffer: one write, and one TLS record when they fit in one.
    std::string message;
    message.reserve(256 + (ex.is_head() ? 0 : body.size()));
    append_response_head(message, status, ex.request.version(), headers, body.size(),
                         ex.keep_alive);
    if (ex.is_head()) {
        co_await write_all(ex, net::buffer(message));
        co_return;
    }
    message += body;
    if (co_await write_all(ex, net::buffer(message))) ex.bytes += body.size();
}

net::awaitable<void> send_head(Exchange& ex, http::status status, const http::fields& headers,
                               std::uint64_t length) {
    ex.status = static_cast<unsigned>(status);
    std::string head;
    append_response_head(head, status, ex.request.version(), headers, length, ex.keep_alive);
    co_await write_all(ex, net::buffer(head));
}

net::awaitable<void> send_error(Exchange& ex, const ApiError& error, const http::fields& headers) {
    http::fields all = headers;
    all.set(http::field::content_type, "application/json");
    const std::string body = error_body(error);
    const auto status = static_cast<http::status>(error.status);
    co_await send_response(ex, status, all, body);
}

net::awaitable<void> send_response(Exchange& ex, const ApiResponse& response) {
    http::fields headers;
    headers.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers)
        headers.set(name, value);
    co_await send_response(ex, static_cast<http::status>(response.status), headers, response.body);
}

net::awaitable<void> send_error(Exchange& ex, const ApiError& error) {
    const http::fields none;
    co_await send_error(ex, error, none);
}

void abort_connection(Exchange& ex) {
    ex.aborted = true;
    ex.keep_alive = false;
    beast::error_code ignored;
    ex.stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    ex.stream.socket().close(ignored);
}

BodyWriter::BodyWriter(Exchange& ex, http::status status, const http::fields& headers,
                       std::optional<std::uint64_t> length)
    : m_ex(ex), m_chunked(!length && ex.request.version() >= 11) {
    // HTTP/1.0 has no chunked coding: a body of unknown length ends with the connection.
    if (!length && !m_chunked) m_ex.keep_alive = false;
    append_response_head(m_head, status, ex.request.version(), headers, length, ex.keep_alive);
    m_ex.status = static_cast<unsigned>(status);
}

net::awaitable<bool> BodyWriter::write_header() {
    if (m_head.empty()) co_return true;  // sent already
    const bool ok = co_await write_all(m_ex, net::buffer(m_head));
    m_head.clear();
    co_return ok;
}

net::awaitable<bool> BodyWriter::write(std::span<const char> bytes) {
    if (bytes.empty()) co_return true;
    const std::string prefix = m_chunked ? chunk_prefix(bytes.size()) : std::string();
    Pieces pieces;
    pieces.add(m_head);
    pieces.add(prefix);
    pieces.add({bytes.data(), bytes.size()});
    if (m_chunked) pieces.add("\r\n");
    const bool ok = co_await write_all(m_ex, pieces.span());
    m_head.clear();
    if (ok) m_ex.bytes += bytes.size();
    co_return ok;
}

net::awaitable<bool> BodyWriter::finish() {
    if (!m_chunked) co_return co_await write_header();
    Pieces pieces;
    pieces.add(m_head);
    pieces.add("0\r\n\r\n");
    const bool ok = co_await write_all(m_ex, pieces.span());
    m_head.clear();
    co_return ok;
}

}  // namespace proxy::server
