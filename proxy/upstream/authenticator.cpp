#include "proxy/upstream/authenticator.hpp"

#include <algorithm>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <openssl/evp.h>

#include "proxy/upstream/auth_challenge.hpp"
#include "proxy/upstream/upstream_error.hpp"
#include "proxy/upstream/warn.hpp"

namespace proxy::upstream {

namespace {

namespace http = boost::beast::http;

std::string base64(std::string_view text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(text.data()),
                                       static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(std::max(length, 0)));
    return out;
}

}  // namespace

std::string basic_authorization(std::string_view username, std::string_view password) {
    std::string pair;
    pair.reserve(username.size() + 1 + password.size());
    pair.append(username).append(":").append(password);
    return "Basic " + base64(pair);
}

Authenticator::Authenticator(const config::UpstreamConfig& config) : m_config(config) {}

std::optional<std::string> Authenticator::authorization(const std::string& scope) {
    if (auto token = m_tokens.find(scope, Token::Clock::now())) {
        return "Bearer " + *token;
    }
    if (!m_basic || m_config.username.empty()) {
        return std::nullopt;
    }
    return basic_credentials();
}

void Authenticator::refused(const std::string& scope) {
    m_tokens.forget(scope);
}

boost::system::result<std::optional<TokenRequest>> Authenticator::answer(
    std::string_view www_authenticate, const std::string& request_scope) {
    const auto challenge = parse_auth_challenge(www_authenticate);
    if (!challenge) {
        warn(m_config.name + ": 401 without a usable WWW-Authenticate challenge");
        return make_error_code(Error::bad_challenge);
    }
    if (challenge->scheme == AuthChallenge::Scheme::basic) {
        if (m_config.username.empty()) {
            warn(m_config.name + ": upstream asks for basic credentials, none configured");
            return make_error_code(Error::bad_challenge);
        }
        m_basic = true;
        return std::nullopt;
    }

    TokenRequest request;
    request.scope = request_scope.empty() ? challenge->scope : request_scope;
    const auto realm = boost::urls::parse_uri(challenge->realm);
    if (!realm) {
        warn(m_config.name + ": bearer challenge without a usable realm");
        return make_error_code(Error::bad_url);
    }
    boost::urls::url url(*realm);
    if (!challenge->service.empty()) {
        url.params().append({"service", challenge->service});
    }
    if (!request.scope.empty()) {
        url.params().append({"scope", request.scope});
    }
    auto location = to_location(url);
    if (!location) {
        warn(m_config.name + ": bearer challenge without a usable realm");
        return location.error();
    }
    request.location = std::move(*location);
    if (!m_config.username.empty()) {
        request.headers.set(http::field::authorization, basic_credentials());
    }
    return request;
}

boost::system::result<void> Authenticator::accept_token(const std::string& request_scope,
                                                        std::string_view body) {
    const auto now = Token::Clock::now();
    auto token = parse_token(body, now);
    if (!token) {
        return token.error();
    }
    m_tokens.store(request_scope, std::move(*token), now);
    return {};
}

std::string Authenticator::basic_credentials() const {
    return basic_authorization(m_config.username, m_config.password());
}

}  // namespace proxy::upstream
