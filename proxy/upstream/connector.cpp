#include "proxy/upstream/connector.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proxy/upstream/upstream_error.hpp"
#include "proxy/upstream/warn.hpp"

namespace proxy::upstream {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = Connection::Clock;

constexpr auto k_use = net::as_tuple(net::use_awaitable);

}  // namespace

Connector::Connector(net::any_io_executor executor, const config::UpstreamConfig& config)
    : m_executor(std::move(executor)),
      m_name(config.name),
      m_ca_file(config.ca_file),
      m_verify(!config.insecure_skip_verify),
      m_connect_timeout(config.connect_timeout),
      m_tls_context(ssl::context::tls_client) {
    if (!m_verify) {
        warn(m_name + ": warning: insecure_skip_verify is set, TLS certificates are not verified");
    }
}

// Loads the trusted certificates on first use: the system store takes a while to parse, and
// plain-http upstreams never need it. Returns the error that makes TLS unusable.
error_code Connector::tls_context_error() {
    std::call_once(m_tls_setup, [this] {
        error_code ec;
        m_tls_context.set_default_verify_paths(ec);
        if (ec) {
            warn(m_name + ": system CA store not loaded: " + ec.message());
        }
        if (!m_ca_file.empty()) {
            m_tls_context.load_verify_file(m_ca_file, ec);
            if (ec) {
                m_tls_error = make_error_code(Error::bad_ca_file);
                warn(m_name + ": ca_file " + m_ca_file + " not loaded: " + ec.message());
            }
        }
    });
    return m_tls_error;
}

net::awaitable<boost::system::result<std::unique_ptr<Connection>>> Connector::connect(
    const Origin& origin, std::optional<Clock::time_point> limit) {
    if (origin.tls) {
        if (auto ec = tls_context_error(); ec) {
            co_return ec;
        }
    }
    auto deadline = Clock::now() + m_connect_timeout;
    const bool timed = m_connect_timeout.count() > 0 || limit;
    if (limit && (m_connect_timeout.count() == 0 || *limit < deadline)) deadline = *limit;
    // What is left of the deadline; never zero, which arm() takes as no limit.
    const auto left = [&] {
        return timed
                   ? std::max<Clock::duration>(deadline - Clock::now(), std::chrono::nanoseconds(1))
                   : Clock::duration::zero();
    };
    const auto executor = m_executor;

    // The resolver has no timeout of its own: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    net::steady_timer timer(executor);
    if (timed) {
        timer.expires_at(deadline);
        timer.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](error_code ec) {
            if (!ec) {
                if (auto resolver = weak.lock()) {
                    resolver->cancel();
                }
            }
        });
    }
    auto [resolve_ec, endpoints] =
        co_await resolver->async_resolve(origin.host, std::to_string(origin.port), k_use);
    timer.cancel();
    if (resolve_ec) {
        if (resolve_ec == net::error::operation_aborted) {
            resolve_ec = beast::error::timeout;
        }
        co_return resolve_ec;
    }

    auto stream = std::make_unique<beast::tcp_stream>(executor);
    arm(*stream, left());
    auto [connect_ec, endpoint] = co_await stream->async_connect(endpoints, k_use);
    std::ignore = endpoint;
    if (connect_ec) {
        co_return connect_ec;
    }
    stream->socket().set_option(tcp::no_delay(true), connect_ec);
    if (!origin.tls) {
        co_return std::make_unique<Connection>(origin.key(), std::move(stream));
    }

    auto tls = std::make_unique<Connection::TlsStream>(std::move(*stream), m_tls_context);
    error_code ec;
    if (net::ip::make_address(origin.host, ec); ec) {
        // SNI carries host names only, never address literals.
        if (!SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str())) {
            co_return error_code(static_cast<int>(::ERR_get_error()),
                                 net::error::get_ssl_category());
        }
    }
    if (m_verify) {
        tls->set_verify_mode(ssl::verify_peer);
        tls->set_verify_callback(ssl::host_name_verification(origin.host));
    } else {
        tls->set_verify_mode(ssl::verify_none);
    }
    arm(tls->next_layer(), left());
    auto [handshake_ec] = co_await tls->async_handshake(ssl::stream_base::client, k_use);
    if (handshake_ec) {
        warn(m_name + ": TLS handshake with " + origin.authority() +
             " failed: " + handshake_ec.message());
        co_return handshake_ec;
    }
    co_return std::make_unique<Connection>(origin.key(), std::move(tls));
}

}  // namespace proxy::upstream
