#pragma once
// Who a request comes from: Basic credentials checked against an htpasswd file (bcrypt), bearer
// tokens from a tokens file or issued by envcache's token endpoint, and the names of a verified
// client certificate. Secrets are kept as SHA-256 hashes (the htpasswd file's bcrypt hashes as
// they are) and never logged.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "proxy/access/policy.hpp"

namespace proxy::access {

class Identities {
  public:
    using Clock = std::chrono::steady_clock;

    // Reads config.htpasswd_file and config.tokens_file. Throws std::runtime_error naming the
    // file and line of an entry it cannot use (a start-up error); never quotes a secret.
    explicit Identities(const config::AccessConfig& config);
    Identities(const Identities&) = delete;
    Identities& operator=(const Identities&) = delete;

    // Some source of credentials is configured (envcache asks callers to authenticate).
    bool enabled() const { return m_enabled; }

    // The caller of a request with this Authorization value (empty: none) and these verified
    // certificate names (CN first, then SANs; empty: no certificate). Valid credentials name the
    // caller; else a certificate does; else credentials that were given make it `refused`.
    // Safe from several threads.
    Caller identify(std::string_view authorization, const std::vector<std::string>& cert_names,
                    Clock::time_point now);

    // Whether `password` is `user`'s in the htpasswd file (bcrypt; slow by design).
    bool check_password(std::string_view user, std::string_view password) const;

    // A new bearer token naming `caller` (an anonymous caller gets an anonymous token), valid
    // for issued_ttl() from `now`.
    std::string issue(const Caller& caller, Clock::time_point now);
    std::chrono::seconds issued_ttl() const { return m_issued_ttl; }

  private:
    struct Issued {
        std::string name;  // empty: anonymous
        Clock::time_point expires;
    };
    struct Verified {
        std::string name;
        Clock::time_point expires;
    };
    Caller from_basic(std::string_view encoded, Clock::time_point now);
    Caller from_bearer(std::string_view token, Clock::time_point now);

    bool m_enabled = false;
    std::chrono::seconds m_issued_ttl;
    std::unordered_map<std::string, std::string> m_htpasswd;    // user -> bcrypt hash
    std::vector<std::pair<std::string, std::string>> m_tokens;  // sha256 hex -> identity
    std::mutex m_mutex;                                         // guards the two below
    std::unordered_map<std::string, Issued> m_issued;           // by sha256 hex of the token
    std::unordered_map<std::string, Verified> m_verified;       // by sha256 hex of user:pass
};

}  // namespace proxy::access
