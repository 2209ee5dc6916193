#include "proxy/access/policy.hpp"

#include <algorithm>
#include <cctype>

namespace proxy::access {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    // Patterns are short and written by the admin: plain recursion over each star is enough.
    while (!pattern.empty()) {
        if (pattern.front() != '*') {
            if (text.empty() || text.front() != pattern.front()) return false;
            pattern.remove_prefix(1);
            text.remove_prefix(1);
            continue;
        }
        const bool crosses = pattern.starts_with("**");
        pattern.remove_prefix(crosses ? 2 : 1);
        for (std::size_t taken = 0;; ++taken) {
            if (glob_match(pattern, text.substr(taken))) return true;
            if (taken == text.size() || (!crosses && text[taken] == '/')) return false;
        }
    }
    return text.empty();
}

Policy::Policy(const config::Config& config)
    : m_enabled(config.access.enabled), m_access(config.access) {}

bool Policy::in_group(const std::string& group, const Caller& caller) const {
    for (const auto& [name, members] : m_access.groups) {
        if (name != group) continue;
        for (const auto& member : members)
            for (const auto& n : caller.names)
                if (member == n) return true;
    }
    return false;
}

bool Policy::applies(const config::AccessRule& rule, const Caller& caller) const {
    for (const auto& who : rule.who) {
        if (who == "anonymous") {
            if (caller.kind == Caller::Kind::anonymous) return true;
            continue;
        }
        if (!caller.identified()) continue;
        if (who == "authenticated") return true;
        if (who.starts_with("group:")) {
            if (in_group(who.substr(6), caller)) return true;
            continue;
        }
        if (std::find(caller.names.begin(), caller.names.end(), who) != caller.names.end())
            return true;
    }
    return false;
}

bool Policy::may_pull(const Caller& caller, std::string_view upstream,
                      std::string_view repo) const {
    if (!m_enabled) return true;
    for (const auto& rule : m_access.rules) {
        if (!applies(rule, caller)) continue;
        for (const auto& pull : rule.pull) {
            if (pull.upstream != "*" && !same_name(pull.upstream, upstream)) continue;
            for (const auto& glob : pull.repos)
                if (glob_match(glob, repo)) return true;
        }
    }
    return false;
}

bool Policy::may_read_environments(const Caller& caller) const {
    if (!m_enabled) return true;
    return std::any_of(m_access.rules.begin(), m_access.rules.end(), [&](const auto& rule) {
        return rule.environments != config::AccessRule::Environments::none && applies(rule, caller);
    });
}

bool Policy::may_write_environments(const Caller& caller) const {
    if (!m_enabled) return true;
    return std::any_of(m_access.rules.begin(), m_access.rules.end(), [&](const auto& rule) {
        return rule.environments == config::AccessRule::Environments::write &&
               applies(rule, caller);
    });
}

bool Policy::is_admin(const Caller& caller) const {
    if (!m_enabled) return false;
    return std::any_of(m_access.rules.begin(), m_access.rules.end(),
                       [&](const auto& rule) { return rule.admin && applies(rule, caller); });
}

std::vector<std::string> Policy::anonymous_pulls_with_credentials(
    const std::vector<config::UpstreamConfig>& upstreams) const {
    std::vector<std::string> out;
    const Caller anonymous;
    for (const auto& u : upstreams) {
        if (u.access != config::UpstreamConfig::Access::shared || u.username.empty()) continue;
        bool any = !m_enabled;
        for (const auto& rule : m_access.rules) {
            if (!applies(rule, anonymous)) continue;
            for (const auto& pull : rule.pull)
                if ((pull.upstream == "*" || same_name(pull.upstream, u.name)) &&
                    !pull.repos.empty())
                    any = true;
        }
        if (any) out.push_back(u.name);
    }
    return out;
}

}  // namespace proxy::access
