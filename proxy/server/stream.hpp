#pragma once
// A client connection, plain TCP or TLS over it: the stream Beast's HTTP reads and writes take,
// with the TCP layer's deadline and socket beside it. Which one is fixed at construction; each
// read and write costs one branch more than a bare beast::tcp_stream.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

namespace proxy::server {

class Stream {
  public:
    using executor_type = boost::beast::tcp_stream::executor_type;
    using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

    // TLS when `tls` is set (handshake() comes first), plain TCP otherwise. The connection
    // keeps `tls` alive, so that a new context (a reloaded certificate) leaves it untouched.
    Stream(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls);
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    executor_type get_executor() { return m_tcp->get_executor(); }
    bool is_tls() const { return m_tls.has_value(); }

    // The TCP layer (under TLS, its next layer): deadlines, cancellation and the socket.
    boost::beast::tcp_stream& tcp() { return *m_tcp; }
    void expires_after(std::chrono::steady_clock::duration timeout) {
        m_tcp->expires_after(timeout);
    }
    void cancel() { m_tcp->cancel(); }
    boost::asio::ip::tcp::socket& socket() { return m_tcp->socket(); }

    // The server side of the TLS handshake, within the deadline set before it.
    boost::asio::awaitable<boost::system::error_code> handshake();
    // Sends TLS close_notify and waits for the peer's within the deadline set before it.
    boost::asio::awaitable<void> shutdown();
    // The verified client certificate's subject CN, then its SANs (DNS names, emails, URIs and
    // IP addresses, in the certificate's order); empty without a verified certificate.
    std::vector<std::string> peer_certificate_names();

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (m_tls)
                    m_tls->async_read_some(b, std::move(handler));
                else
                    m_tcp->async_read_some(b, std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (m_tls)
                    m_tls->async_write_some(b, std::move(handler));
                else
                    m_tcp->async_write_some(b, std::move(handler));
            },
            token, buffers);
    }

  private:
    std::shared_ptr<boost::asio::ssl::context> m_context;  // outlives m_tls
    std::optional<boost::beast::tcp_stream> m_plain;
    std::optional<TlsStream> m_tls;
    boost::beast::tcp_stream* m_tcp;  // m_plain or m_tls's next layer
};

}  // namespace proxy::server
