#include "proxy/server/stream.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace proxy::server {

namespace net = boost::asio;

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);

std::string utf8(const ASN1_STRING* text) {
    unsigned char* out = nullptr;
    const int size = ASN1_STRING_to_UTF8(&out, text);
    if (size < 0) return {};
    std::string value(reinterpret_cast<const char*>(out), static_cast<std::size_t>(size));
    OPENSSL_free(out);
    return value;
}

std::string ip_text(const ASN1_OCTET_STRING* bytes) {
    const unsigned char* data = ASN1_STRING_get0_data(bytes);
    const int size = ASN1_STRING_length(bytes);
    if (size == 4) {
        net::ip::address_v4::bytes_type v4;
        std::copy(data, data + 4, v4.begin());
        return net::ip::address_v4(v4).to_string();
    }
    if (size == 16) {
        net::ip::address_v6::bytes_type v6;
        std::copy(data, data + 16, v6.begin());
        return net::ip::address_v6(v6).to_string();
    }
    return {};
}

void add_subject_alt_names(X509* cert, std::vector<std::string>& names) {
    const std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
        GENERAL_NAMES_free);
    if (!sans) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
        std::string text;
        switch (name->type) {
            case GEN_DNS:
            case GEN_EMAIL:
            case GEN_URI:
                text = utf8(name->d.ia5);
                break;
            case GEN_IPADD:
                text = ip_text(name->d.iPAddress);
                break;
            default:
                break;
        }
        if (!text.empty()) names.push_back(std::move(text));
    }
}

}  // namespace

Stream::Stream(net::ip::tcp::socket socket, std::shared_ptr<net::ssl::context> tls)
    : m_context(std::move(tls)), m_tcp(std::move(socket)) {
    if (m_context) m_tls = std::make_unique<TlsChannel>(m_context->native_handle());
}

net::awaitable<boost::system::error_code> Stream::handshake() {
    if (!m_tls->valid()) co_return net::error::no_memory;
    auto [ec, n] = co_await run_tls([this] { return m_tls->handshake(); }, k_token);
    co_return ec;
}

net::awaitable<void> Stream::shutdown() {
    std::ignore = co_await run_tls([this] { return m_tls->shutdown(); }, k_token);
}

std::vector<std::string> Stream::peer_certificate_names() {
    std::vector<std::string> names;
    if (!m_tls || !m_tls->valid()) return names;
    SSL* ssl = m_tls->native_handle();
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return names;
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (cn >= 0) {
        std::string text = utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
        if (!text.empty()) names.push_back(std::move(text));
    }
    add_subject_alt_names(cert, names);
    return names;
}

}  // namespace proxy::server
