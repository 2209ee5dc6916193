#pragma once
// Opens connections to the origins one upstream's requests go to, plain or TLS.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "proxy/upstream/connection.hpp"
#include "proxy/upstream/location.hpp"

namespace proxy::upstream {

// TLS trusts the system CA store plus the upstream's ca_file, and verifies the peer's certificate
// and host name unless insecure_skip_verify is set. Safe to use from several threads.
class Connector {
  public:
    Connector(boost::asio::any_io_executor executor, const config::UpstreamConfig& config);

    // Resolves, connects and (for https) does the TLS handshake with SNI, all within the
    // upstream's connect_timeout: a slow resolver or handshake ends in beast::error::timeout.
    // Error::bad_ca_file when https needs a ca_file that cannot be loaded. A `deadline` earlier
    // than connect_timeout's ends it sooner.
    boost::asio::awaitable<boost::system::result<std::unique_ptr<Connection>>> connect(
        const Origin& origin,
        std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  private:
    boost::system::error_code tls_context_error();

    boost::asio::any_io_executor m_executor;
    std::string m_name;  // the upstream's, for log lines
    std::string m_ca_file;
    bool m_verify = true;
    std::chrono::seconds m_connect_timeout;
    boost::asio::ssl::context m_tls_context;
    std::once_flag m_tls_setup;
    boost::system::error_code m_tls_error;  // set once by tls_context_error()
};

}  // namespace proxy::upstream
