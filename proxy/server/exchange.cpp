#include "proxy/server/exchange.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <span>
#include <string_view>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <tuple>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/server/response_head.hpp"

namespace proxy::server {

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);

// The buffers of one write, empty ones left out: a stream may report an empty first buffer
// as a write of nothing, which async_write takes for the end (Beast's flat_stream under TLS).
class Pieces {
  public:
    void add(std::string_view bytes) {
        if (!bytes.empty()) m_buffers[m_count++] = net::buffer(bytes.data(), bytes.size());
    }
    std::span<const net::const_buffer> span() const { return {m_buffers.data(), m_count}; }
    // Drops the first `n` bytes.
    void consume(std::size_t n) {
        std::size_t kept = 0;
        for (std::size_t i = 0; i < m_count; ++i) {
            if (n >= m_buffers[i].size()) {
                n -= m_buffers[i].size();
                continue;
            }
            m_buffers[kept++] = m_buffers[i] + n;
            n = 0;
        }
        m_count = kept;
    }

  private:
    std::array<net::const_buffer, 4> m_buffers;
    std::size_t m_count = 0;
};

// Puts a plain connection's socket in non-blocking mode, once: the sends envcache makes itself
// (send_now, sendfile) then return EAGAIN instead of blocking a loop. False if that failed.
bool make_non_blocking(net::ip::tcp::socket& socket) {
    if (socket.non_blocking()) return true;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    return !ec;
}

// Sends what the socket takes of `buffers` now, without waiting: plain TCP only (0 under TLS,
// or when the socket is full or failed, which the write that follows then finds).
std::size_t send_now(Exchange& ex, std::span<const net::const_buffer> buffers) {
    if (ex.stream.is_tls()) return 0;
    auto& socket = ex.stream.socket();
    if (!make_non_blocking(socket)) return 0;
    boost::system::error_code ec;
    return socket.send(buffers, 0, ec);
}

// Writes that may go out without a turn through the loop: small ones (heads, manifests, small
// blobs kept inline). A larger body piece (a stored chunk, a spool read) is written
// asynchronously, so that a fast client pulling a large blob gives the loop's other
// connections a turn after every piece.
constexpr std::size_t k_send_now_bytes = 64 * 1024;

// Writes all of `pieces` within the exchange's write timeout. Most responses fit in the
// socket's buffer: a small write is sent at once as far as the socket takes it, and only the
// rest goes through an asynchronous write (which would send as soon, then complete through the
// loop). False, and the connection is not kept, on a failure. A write sent whole at once sets
// no deadline: every read and write on the stream sets its own before it starts.
net::awaitable<bool> write_all(Exchange& ex, Pieces pieces) {
    if (net::buffer_size(pieces.span()) <= k_send_now_bytes)
        pieces.consume(send_now(ex, pieces.span()));
    if (pieces.span().empty()) co_return true;
    ex.stream.expires_after(ex.write_timeout);
    const auto [ec, n] = co_await net::async_write(ex.stream, pieces.span(), k_token);
    if (ec) ex.keep_alive = false;
    co_return !ec;
}

Pieces one_piece(std::string_view bytes) {
    Pieces pieces;
    pieces.add(bytes);
    return pieces;
}

// What one write_file copy moves at most (a TLS write takes up to 256 KiB of plaintext).
constexpr std::size_t k_file_copy_bytes = 256 * 1024;
// What one sendfile call is asked for at most: it returns early when the socket is full anyway.
constexpr std::uint64_t k_sendfile_bytes = 16 * 1024 * 1024;

// A client must take this much within each write timeout while a file body is sent, as the
// store's path bounds each write of a chunk (about 1 MiB) by the timeout.
constexpr std::uint64_t k_progress_bytes = 1024 * 1024;

// Moves `left` bytes into the exchange's plain TCP socket with `step(left)` -- one send or
// sendfile of at most `left` bytes, returning what the call returns -- waiting for room while
// the socket is full. The write timeout restarts each time k_progress_bytes have gone. `left`
// counts down as bytes go; false (and the connection is not kept) on an error, a timeout or a
// file that ends early.
template <class Step>
net::awaitable<bool> push(Exchange& ex, std::uint64_t& left, Step step) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + ex.write_timeout;
    std::uint64_t progress = 0;
    while (left > 0) {
        const ssize_t n = step(left);
        const int error = n < 0 ? errno : 0;
        if (n > 0) {
            left -= static_cast<std::uint64_t>(n);
            progress += static_cast<std::uint64_t>(n);
            if (progress >= k_progress_bytes) {
                deadline = Clock::now() + ex.write_timeout;
                progress = 0;
            }
            continue;
        }
        if (error == EINTR) continue;
        bool room = false;
        if (error == EAGAIN || error == EWOULDBLOCK) {
            // Until the socket takes more, within the deadline; a server shutting down cancels
            // the wait.
            ex.stream.tcp().expires_at(deadline);
            auto waiting = ex.stream.tcp().async_wait(net::socket_base::wait_write, k_token);
            auto [wait_ec] = co_await std::move(waiting);
            room = !wait_ec;
        }
        if (!room) {
            ex.keep_alive = false;
            co_return false;
        }
    }
    co_return true;
}

}  // namespace

namespace {

// Sends `message`, a whole response in one buffer (one write, and one TLS record when it fits
// in one) whose body is `body_bytes` long, and counts the body once it went.
net::awaitable<void> send_message(Exchange& ex, std::string message, std::size_t body_bytes) {
    auto writing = write_all(ex, one_piece(message));
    const bool sent = co_await std::move(writing);
    if (sent && !ex.is_head()) ex.bytes += body_bytes;
}

}  // namespace

// Not coroutines: the message is built at once, and send_message's coroutine is the one the
// caller awaits.
net::awaitable<void> send_response(Exchange& ex, http::status status, const http::fields& headers,
                                   std::string_view body) {
    std::string fields;
    append_fields(fields, headers);
    return send_rendered(ex, status, fields, body);
}

net::awaitable<void> send_rendered(Exchange& ex, http::status status,
                                   std::string_view rendered_fields, std::string_view body) {
    ex.status = static_cast<unsigned>(status);
    std::string message;
    message.reserve(256 + rendered_fields.size() + (ex.is_head() ? 0 : body.size()));
    append_response_head(message, status, ex.request.version(), rendered_fields, body.size(),
                         ex.keep_alive);
    if (!ex.is_head()) message += body;
    return send_message(ex, std::move(message), body.size());
}

net::awaitable<void> send_head(Exchange& ex, http::status status, const http::fields& headers,
                               std::uint64_t length) {
    ex.status = static_cast<unsigned>(status);
    std::string head;
    append_response_head(head, status, ex.request.version(), headers, length, ex.keep_alive);
    auto writing = write_all(ex, one_piece(head));
    co_await std::move(writing);
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
    auto writing = write_all(m_ex, one_piece(m_head));
    const bool ok = co_await std::move(writing);
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
    auto writing = write_all(m_ex, pieces);
    const bool ok = co_await std::move(writing);
    m_head.clear();
    if (ok) m_ex.bytes += bytes.size();
    co_return ok;
}

net::awaitable<bool> BodyWriter::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
    if (count == 0) co_return true;
    if (m_ex.stream.is_tls() || m_chunked) {
        // The bytes must pass through this process: copy them in pieces.
        std::string piece;
        while (count > 0) {
            const std::size_t size =
                static_cast<std::size_t>(std::min<std::uint64_t>(count, k_file_copy_bytes));
            piece.resize(size);
            std::size_t got = 0;
            while (got < size) {
                const ssize_t n =
                    ::pread(fd, piece.data() + got, size - got, static_cast<off_t>(offset + got));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                    m_ex.keep_alive = false;
                    co_return false;
                }
                got += static_cast<std::size_t>(n);
            }
            auto writing = write(piece);
            if (!co_await std::move(writing)) co_return false;
            offset += size;
            count -= size;
        }
        co_return true;
    }
    auto& socket = m_ex.stream.socket();
    if (!make_non_blocking(socket)) {
        m_ex.keep_alive = false;
        co_return false;
    }
    const int out = socket.native_handle();
    if (!m_head.empty()) {
        // MSG_MORE: the head waits for the first file bytes, so both leave in one segment.
        const std::string head = std::move(m_head);
        m_head.clear();
        std::uint64_t left = head.size();
        const bool sent = co_await push(m_ex, left, [&](std::uint64_t n) {
            return ::send(out, head.data() + (head.size() - n), n, MSG_MORE | MSG_NOSIGNAL);
        });
        if (!sent) co_return false;
    }
    auto at = static_cast<off_t>(offset);
    std::uint64_t left = count;
    const bool sent = co_await push(m_ex, left, [&](std::uint64_t n) {
        return ::sendfile(out, fd, &at, static_cast<std::size_t>(std::min(n, k_sendfile_bytes)));
    });
    m_ex.bytes += count - left;
    co_return sent;
}

net::awaitable<bool> BodyWriter::finish() {
    if (!m_chunked) {
        auto writing = write_header();
        co_return co_await std::move(writing);
    }
    Pieces pieces;
    pieces.add(m_head);
    pieces.add("0\r\n\r\n");
    auto writing = write_all(m_ex, pieces);
    const bool ok = co_await std::move(writing);
    m_head.clear();
    co_return ok;
}

}  // namespace proxy::server
