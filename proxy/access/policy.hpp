#pragma once
// Who may do what: the rules of the `access` section applied to a caller. Pure: no I/O, no
// clock, so every decision is unit-tested.

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace proxy::access {

// Who sent a request, as proxy::access::Identities made it out.
struct Caller {
    enum class Kind {
        anonymous,   // no credentials
        identified,  // credentials envcache knows
        refused,     // credentials given, but not valid here (answered 401)
    };
    Kind kind = Kind::anonymous;
    std::string name;                // the identity; for a certificate its subject CN (or SAN)
    std::vector<std::string> names;  // every name the caller goes by (a certificate's CN, SANs)

    bool identified() const { return kind == Kind::identified; }
    // For the access log: the identity, or "-".
    std::string log_name() const { return identified() ? name : "-"; }
};

// `pattern` matches the whole of `text`: '*' stands for any run of characters but '/', '**' for
// any run at all; every other character stands for itself.
bool glob_match(std::string_view pattern, std::string_view text);

class Policy {
  public:
    // Copies what it needs of `config` (its access section and upstream names).
    explicit Policy(const config::Config& config);

    // Without an access section everything is allowed (today's behaviour) and no one is asked
    // for credentials.
    bool enabled() const { return m_enabled; }

    bool may_pull(const Caller& caller, std::string_view upstream, std::string_view repo) const;
    bool may_read_environments(const Caller& caller) const;
    bool may_write_environments(const Caller& caller) const;
    bool is_admin(const Caller& caller) const;

    // The shared upstreams with credentials of their own that some rule lets anonymous callers
    // pull from: a start-up warning each (their private content is anyone's).
    std::vector<std::string> anonymous_pulls_with_credentials(
        const std::vector<config::UpstreamConfig>& upstreams) const;

  private:
    bool applies(const config::AccessRule& rule, const Caller& caller) const;
    bool in_group(const std::string& group, const Caller& caller) const;

    bool m_enabled = false;
    config::AccessConfig m_access;
};

}  // namespace proxy::access
