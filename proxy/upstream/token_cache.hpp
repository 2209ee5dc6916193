#pragma once
// Bearer tokens from a registry's token endpoint, cached per scope until they are due for
// renewal.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace proxy::upstream {

struct Token {
    using Clock = std::chrono::steady_clock;

    std::string value;
    Clock::time_point renew_at;  // fetch a new one from here on
};

// The token in a token endpoint's JSON answer received at `now`: {"token": ...} or
// {"access_token": ...}, living "expires_in" seconds (60 if absent or not positive, at most a
// year). It is renewed a quarter of its lifetime, at most 30 s, before it expires, so it is not
// sent just as it runs out. Error::bad_token_response for anything else.
boost::system::result<Token> parse_token(std::string_view body, Token::Clock::time_point now);

// Tokens by the scope they were fetched for. Safe to use from several threads.
class TokenCache {
  public:
    // The token value for `scope`, unless none is cached or it is due for renewal at `now`
    // (it is then dropped).
    std::optional<std::string> find(const std::string& scope, Token::Clock::time_point now);

    // Caches the token for `scope`, replacing any other, and drops every token due for renewal
    // at `now`, so the cache holds no more scopes than are in use.
    void store(const std::string& scope, Token token, Token::Clock::time_point now);

    // Drops the token for `scope`, e.g. after the registry refused it.
    void forget(const std::string& scope);

    std::size_t size() const;

  private:
    mutable std::mutex m_mutex;
    std::map<std::string, Token> m_tokens;
};

}  // namespace proxy::upstream
