#include "proxy/server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace proxy::server {

namespace ssl = boost::asio::ssl;

namespace {

// Refuses a passphrase prompt: an encrypted key fails to load instead of waiting on a terminal.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

// "<what> \"<file>\": <OpenSSL's reason>", clearing OpenSSL's error queue.
std::string failure(std::string_view what, const std::filesystem::path& file) {
    const unsigned long code = ERR_peek_last_error();
    const char* text = code ? ERR_reason_error_string(code) : nullptr;
    std::string reason = text ? text : "unknown error";
    ERR_clear_error();
    return std::string(what) + " \"" + file.string() + "\": " + reason;
}

}  // namespace

boost::system::result<std::shared_ptr<ssl::context>, std::string> make_tls_context(
    const config::TlsConfig& tls) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1)
        return failure("cannot load the certificate chain in", tls.cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return failure("cannot load the private key in", tls.key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return failure("the certificate does not match the private key in", tls.key_file);
    // Resumed sessions must stay possible with client certificates on.
    static constexpr unsigned char k_session_context[] = "envcache";
    SSL_CTX_set_session_id_context(ctx, k_session_context, sizeof k_session_context - 1);
    if (tls.client_auth != config::ClientAuth::none) {
        if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1)
            return failure("cannot load the client CA in", tls.client_ca_file);
        // Tells clients which CA to pick their certificate by.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
        if (!names) return failure("cannot read the client CA names in", tls.client_ca_file);
        SSL_CTX_set_client_CA_list(ctx, names);
        int mode = SSL_VERIFY_PEER;
        if (tls.client_auth == config::ClientAuth::require) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, nullptr);
    }
    return context;
}

}  // namespace proxy::server
