#pragma once
// The listener's TLS context, built from `server.tls`: at start-up and again on SIGHUP.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"

namespace proxy::server {

// A context with the certificate chain, key, client CA and verification mode `tls` names.
// The error names the file and OpenSSL's reason, never a key's contents.
boost::system::result<std::shared_ptr<boost::asio::ssl::context>, std::string> make_tls_context(
    const config::TlsConfig& tls);

}  // namespace proxy::server
