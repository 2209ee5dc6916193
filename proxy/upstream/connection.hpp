#pragma once
// One HTTP/1.1 connection to an origin, plain or TLS, with the bytes read past the last message.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace proxy::upstream {

// Sets the stream's deadline for the operations that follow: `timeout` from now, or none when
// `timeout` is zero.
void arm(boost::beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout);

class Connection {
  public:
    using Clock = std::chrono::steady_clock;
    using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

    // Beast sizes each socket read by the buffer's free capacity (at least 512 bytes): without
    // room reserved up front, a large body arrives 512 bytes per read.
    static constexpr std::size_t k_read_buffer = 256 * 1024;

    // `key` is the origin's (Origin::key()): what the pool files the connection under.
    Connection(std::string key, std::unique_ptr<boost::beast::tcp_stream> stream);
    Connection(std::string key, std::unique_ptr<TlsStream> stream);

    const std::string& key() const { return m_key; }
    bool is_tls() const { return m_tls != nullptr; }
    // The TCP layer, for timeouts and socket options (under TLS, its next layer).
    boost::beast::tcp_stream& tcp() { return m_tls ? m_tls->next_layer() : *m_plain; }
    // Bytes read from the stream but not yet parsed; reading must go through it.
    boost::beast::flat_buffer& buffer() { return m_buffer; }

    // Calls f with the stream to read and write (the TLS stream or the plain one).
    template <class F>
    auto with_stream(F&& f) {
        if (m_tls) {
            return f(*m_tls);
        }
        return f(*m_plain);
    }

    // Stamps the time the connection became idle, which the pool ages it by.
    void mark_idle() { m_idle_since = Clock::now(); }
    Clock::time_point idle_since() const { return m_idle_since; }

  private:
    std::string m_key;
    std::unique_ptr<boost::beast::tcp_stream> m_plain;
    std::unique_ptr<TlsStream> m_tls;
    boost::beast::flat_buffer m_buffer;
    Clock::time_point m_idle_since{};
};

}  // namespace proxy::upstream
