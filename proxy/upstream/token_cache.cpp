#include "proxy/upstream/token_cache.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "proxy/upstream/upstream_error.hpp"

namespace proxy::upstream {

namespace {

constexpr auto k_default_token_lifetime = std::chrono::seconds(60);
constexpr auto k_max_token_lifetime = std::chrono::seconds(365ll * 24 * 3600);
constexpr auto k_max_token_margin = std::chrono::seconds(30);

}  // namespace

boost::system::result<Token> parse_token(std::string_view body, Token::Clock::time_point now) {
    boost::system::error_code ec;
    const auto json = boost::json::parse(body, ec);
    if (ec || !json.is_object()) {
        return make_error_code(Error::bad_token_response);
    }
    const auto& object = json.get_object();
    Token token;
    for (const char* name : {"token", "access_token"}) {
        const auto* value = object.if_contains(name);
        if (value && value->is_string() && !value->get_string().empty()) {
            token.value = std::string(value->get_string());
            break;
        }
    }
    if (token.value.empty()) {
        return make_error_code(Error::bad_token_response);
    }
    std::chrono::seconds lifetime = k_default_token_lifetime;
    if (const auto* value = object.if_contains("expires_in")) {
        if (value->is_int64() && value->get_int64() > 0) {
            lifetime = std::min(std::chrono::seconds(value->get_int64()), k_max_token_lifetime);
        } else if (value->is_uint64() && value->get_uint64() > 0) {
            lifetime = k_max_token_lifetime;  // beyond int64, so beyond a year
        }
    }
    token.renew_at = now + lifetime - std::min(k_max_token_margin, lifetime / 4);
    return token;
}

std::optional<std::string> TokenCache::find(const std::string& scope,
                                            Token::Clock::time_point now) {
    std::lock_guard lock(m_mutex);
    auto it = m_tokens.find(scope);
    if (it == m_tokens.end()) {
        return std::nullopt;
    }
    if (now >= it->second.renew_at) {
        m_tokens.erase(it);
        return std::nullopt;
    }
    return it->second.value;
}

void TokenCache::store(const std::string& scope, Token token, Token::Clock::time_point now) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_tokens, [now](const auto& entry) { return entry.second.renew_at <= now; });
    m_tokens[scope] = std::move(token);
}

void TokenCache::forget(const std::string& scope) {
    std::lock_guard lock(m_mutex);
    m_tokens.erase(scope);
}

std::size_t TokenCache::size() const {
    std::lock_guard lock(m_mutex);
    return m_tokens.size();
}

}  // namespace proxy::upstream
