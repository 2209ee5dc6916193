#include "proxy/upstream/pooled_response.hpp"

#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

namespace proxy::upstream {

namespace {

using boost::system::error_code;

constexpr auto k_use = net::as_tuple(net::use_awaitable);

}  // namespace

PooledResponse::PooledResponse(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection,
                               std::unique_ptr<Parser> parser, std::chrono::seconds read_timeout,
                               bool head)
    : m_pool(std::move(pool)),
      m_connection(std::move(connection)),
      m_parser(std::move(parser)),
      m_read_timeout(read_timeout) {
    if (head) {
        const auto field = m_parser->get()[http::field::content_length];
        std::uint64_t length = 0;
        const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), length);
        if (ec == std::errc{} && end == field.data() + field.size() && !field.empty()) {
            m_content_length = length;
        }
    } else if (const auto length = m_parser->content_length()) {
        m_content_length = *length;
    }
    if (m_parser->is_done()) {
        finish();
    }
}

net::awaitable<std::pair<error_code, std::size_t>> PooledResponse::read_some(
    net::mutable_buffer buffer) {
    if (m_error) {
        co_return std::pair{m_error, std::size_t{0}};
    }
    if (!m_connection || buffer.size() == 0) {
        co_return std::pair{error_code{}, std::size_t{0}};
    }
    while (true) {
        auto& body = m_parser->get().body();
        body.data = buffer.data();
        body.size = buffer.size();
        body.more = true;
        arm(m_connection->tcp(), m_read_timeout);
        auto [ec, consumed] = co_await m_connection->with_stream([this](auto& stream) {
            return http::async_read_some(stream, m_connection->buffer(), *m_parser, k_use);
        });
        std::ignore = consumed;
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            m_error = ec;
            m_connection.reset();
            co_return std::pair{ec, std::size_t{0}};
        }
        const std::size_t filled = buffer.size() - body.size;
        if (m_parser->is_done()) {
            finish();
        }
        if (filled > 0 || !m_connection) {
            co_return std::pair{error_code{}, filled};
        }
    }
}

// The body was read to the end: the connection goes back to the pool if it can carry another
// request (the server keeps it alive and sent nothing past this answer).
void PooledResponse::finish() {
    if (m_parser->keep_alive() && m_connection->buffer().size() == 0) {
        m_connection->tcp().expires_never();
        m_pool->give(std::move(m_connection));
    }
    m_connection.reset();
}

}  // namespace proxy::upstream
