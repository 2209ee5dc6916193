#include "proxy/server/tls_channel.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>

namespace proxy::server {

namespace net = boost::asio;

TlsChannel::TlsChannel(SSL_CTX* ctx) {
    SSL* ssl = SSL_new(ctx);
    if (!ssl) return;
    BIO* internal = nullptr;
    BIO* network = nullptr;
    if (BIO_new_bio_pair(&internal, k_network_bytes, &network, k_network_bytes) != 1) {
        SSL_free(ssl);
        return;
    }
    SSL_set_bio(ssl, internal, internal);
    // Whole writes (no partial write of one record): a retried write passes the same bytes.
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_clear_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_set_accept_state(ssl);
    m_ssl = ssl;
    m_network = network;
}

TlsChannel::~TlsChannel() {
    if (m_ssl) SSL_free(m_ssl);  // frees the internal end
    if (m_network) BIO_free(m_network);
}

TlsChannel::Step TlsChannel::outcome(int rc) {
    if (rc > 0) return {Need::nothing, static_cast<std::size_t>(rc), {}};
    const int error = SSL_get_error(m_ssl, rc);
    switch (error) {
        case SSL_ERROR_WANT_READ:
            return {Need::input, 0, {}};
        case SSL_ERROR_WANT_WRITE:
            return {Need::output, 0, {}};
        case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
            return {Need::failed, 0, net::error::eof};
        case SSL_ERROR_SSL: {
            const unsigned long code = ERR_get_error();
            ERR_clear_error();
            return {
                Need::failed, 0,
                boost::system::error_code(static_cast<int>(code), net::error::get_ssl_category())};
        }
        default:
            ERR_clear_error();
            return {Need::failed, 0, net::ssl::error::stream_truncated};
    }
}

TlsChannel::Step TlsChannel::handshake() {
    ERR_clear_error();
    const int rc = SSL_do_handshake(m_ssl);
    return rc == 1 ? Step{} : outcome(rc);
}

TlsChannel::Step TlsChannel::read(std::span<char> into) {
    if (into.empty()) return {};
    ERR_clear_error();
    return outcome(SSL_read(m_ssl, into.data(), static_cast<int>(into.size())));
}

TlsChannel::Step TlsChannel::write(std::span<const char> bytes) {
    if (bytes.empty()) return {};
    ERR_clear_error();
    return outcome(SSL_write(m_ssl, bytes.data(), static_cast<int>(bytes.size())));
}

TlsChannel::Step TlsChannel::shutdown() {
    ERR_clear_error();
    const int rc = SSL_shutdown(m_ssl);
    if (rc == 1) return {};
    if (rc == 0) return {Need::input, 0, {}};  // ours is sent; the peer's has not come
    return outcome(rc);
}

std::span<const char> TlsChannel::pending_output() {
    char* data = nullptr;
    const int n = BIO_nread0(m_network, &data);
    if (n <= 0) return {};
    return {data, static_cast<std::size_t>(n)};
}

void TlsChannel::sent(std::size_t bytes) {
    BIO_nread(m_network, nullptr, static_cast<int>(bytes));
}

std::span<char> TlsChannel::input_room() {
    char* data = nullptr;
    const int n = BIO_nwrite0(m_network, &data);
    if (n <= 0) return {};
    return {data, static_cast<std::size_t>(n)};
}

void TlsChannel::received(std::size_t bytes) {
    BIO_nwrite(m_network, nullptr, static_cast<int>(bytes));
}

}  // namespace proxy::server
