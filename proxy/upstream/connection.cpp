#include "proxy/upstream/connection.hpp"

#include <utility>

namespace proxy::upstream {

void arm(boost::beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout) {
    if (timeout > std::chrono::steady_clock::duration::zero()) {
        stream.expires_after(timeout);
    } else {
        stream.expires_never();
    }
}

Connection::Connection(std::string key, std::unique_ptr<boost::beast::tcp_stream> stream)
    : m_key(std::move(key)), m_plain(std::move(stream)) {
    m_buffer.reserve(k_read_buffer);
}

Connection::Connection(std::string key, std::unique_ptr<TlsStream> stream)
    : m_key(std::move(key)), m_tls(std::move(stream)) {
    m_buffer.reserve(k_read_buffer);
}

}  // namespace proxy::upstream
