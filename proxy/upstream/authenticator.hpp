#pragma once
// The credentials one upstream is sent: bearer tokens got through the challenge flow and cached
// per scope, or the configured basic credentials once the upstream asks for them.

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "proxy/upstream/location.hpp"
#include "proxy/upstream/token_cache.hpp"

namespace proxy::upstream {

// The request that fetches a bearer token: a GET to the challenge's realm.
struct TokenRequest {
    Location location;                   // the realm, with service and scope in its query
    boost::beast::http::fields headers;  // the basic credentials, when some are configured
    std::string scope;                   // the scope asked for, for log lines
};

// Decides what the upstream is sent; performs no I/O (the client makes the token request).
// Safe to use from several threads.
// "Basic <base64(username:password)>", the value of an Authorization header.
std::string basic_authorization(std::string_view username, std::string_view password);

class Authenticator {
  public:
    explicit Authenticator(const config::UpstreamConfig& config);

    // The Authorization value for a request under `scope`: a cached token that is not due for
    // renewal, else the basic credentials once the upstream asked for them, else nullopt.
    std::optional<std::string> authorization(const std::string& scope);

    // The upstream refused what was sent under `scope`: its cached token is not sent again.
    void refused(const std::string& scope);

    // How to answer a 401 with this WWW-Authenticate value to a request under `request_scope`:
    // the token request to make (then pass its answer to accept_token()); nullopt when the
    // upstream asks for basic credentials, which authorization() gives from now on; an error
    // (logged) when the challenge cannot be answered. A request without a scope asks for the
    // challenge's own.
    boost::system::result<std::optional<TokenRequest>> answer(std::string_view www_authenticate,
                                                              const std::string& request_scope);

    // Caches the token in the body of the token endpoint's 200 for `request_scope`, to be sent
    // until it is due for renewal. Error::bad_token_response if the body holds none.
    boost::system::result<void> accept_token(const std::string& request_scope,
                                             std::string_view body);

    // "Basic <base64(username:password)>"; the password is read from its source on each call.
    std::string basic_credentials() const;

  private:
    config::UpstreamConfig m_config;
    TokenCache m_tokens;                // by the request's scope
    std::atomic<bool> m_basic = false;  // the upstream asked for basic credentials
};

}  // namespace proxy::upstream
