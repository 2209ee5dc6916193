#include "proxy/server/exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

namespace proxy::server {

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);

template <class Body>
void copy_headers(http::response<Body>& response, const http::fields& headers) {
    for (const auto& field : headers)
        response.insert(field.name_string(), field.value());
}

}  // namespace

net::awaitable<void> send_response(Exchange& ex, http::status status, const http::fields& headers,
                                   std::string_view body) {
    ex.status = static_cast<unsigned>(status);
    const unsigned version = ex.request.version();
    ex.stream.expires_after(ex.write_timeout);
    if (ex.is_head()) {
        http::response<http::empty_body> response{status, version};
        copy_headers(response, headers);
        response.keep_alive(ex.keep_alive);
        response.content_length(body.size());
        auto [ec, n] = co_await http::async_write(ex.stream, response, k_token);
        if (ec) ex.keep_alive = false;
        co_return;
    }
    http::response<http::string_body> response{status, version};
    copy_headers(response, headers);
    response.keep_alive(ex.keep_alive);
    const std::size_t size = body.size();
    response.body() = std::string(body);
    response.prepare_payload();
    auto [ec, n] = co_await http::async_write(ex.stream, response, k_token);
    if (ec)
        ex.keep_alive = false;
    else
        ex.bytes += size;
}

net::awaitable<void> send_head(Exchange& ex, http::status status, const http::fields& headers,
                               std::uint64_t length) {
    ex.status = static_cast<unsigned>(status);
    ex.stream.expires_after(ex.write_timeout);
    http::response<http::empty_body> response{status, ex.request.version()};
    copy_headers(response, headers);
    response.keep_alive(ex.keep_alive);
    response.content_length(length);
    auto [ec, n] = co_await http::async_write(ex.stream, response, k_token);
    if (ec) ex.keep_alive = false;
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

BodyWriter::BodyWriter(Exchange& ex, http::status status, http::fields headers,
                       std::optional<std::uint64_t> length)
    : m_ex(ex), m_response(status, ex.request.version()), m_serializer(m_response) {
    copy_headers(m_response, headers);
    m_response.keep_alive(ex.keep_alive);
    if (length)
        m_response.content_length(*length);
    else
        m_response.chunked(true);
    m_response.body().data = nullptr;
    m_response.body().more = true;
    m_ex.status = static_cast<unsigned>(status);
}

net::awaitable<bool> BodyWriter::write_header() {
    m_ex.stream.expires_after(m_ex.write_timeout);
    auto [ec, n] = co_await http::async_write_header(m_ex.stream, m_serializer, k_token);
    if (ec) m_ex.keep_alive = false;
    co_return !ec;
}

net::awaitable<bool> BodyWriter::write(std::span<const char> bytes) {
    if (bytes.empty()) co_return true;
    m_response.body().data = const_cast<char*>(bytes.data());
    m_response.body().size = bytes.size();
    m_response.body().more = true;
    m_ex.stream.expires_after(m_ex.write_timeout);
    auto [ec, n] = co_await http::async_write(m_ex.stream, m_serializer, k_token);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        m_ex.keep_alive = false;
        co_return false;
    }
    m_ex.bytes += bytes.size();
    co_return true;
}

net::awaitable<bool> BodyWriter::finish() {
    m_response.body().data = nullptr;
    m_response.body().size = 0;
    m_response.body().more = false;
    m_ex.stream.expires_after(m_ex.write_timeout);
    auto [ec, n] = co_await http::async_write(m_ex.stream, m_serializer, k_token);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) m_ex.keep_alive = false;
    co_return !ec;
}

}  // namespace proxy::server
