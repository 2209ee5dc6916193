#pragma once
// What a passthrough upstream answered when asked whether a caller may read a repository: kept
// per upstream, repository and a hash of the caller's credentials, a "yes" for decision_ttl and
// a "no" for denial_ttl. No I/O and no clock of its own; safe from several threads.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace proxy::access {

class Decisions {
  public:
    using Clock = std::chrono::steady_clock;

    struct Decision {
        bool allowed = false;
        std::string challenge;  // a denial: the WWW-Authenticate value to answer with
    };

    // The key of a decision; holds a hash of `authorization`, never the value itself.
    static std::string key(std::size_t upstream, std::string_view repo,
                           std::string_view authorization);

    // The remembered answer for `key`, if it is still good at `now`.
    std::optional<Decision> find(const std::string& key, Clock::time_point now);

    // Remembers the upstream's answer until `now + ttl`.
    void remember(const std::string& key, Decision decision, std::chrono::seconds ttl,
                  Clock::time_point now);

    std::size_t size() const;

  private:
    struct Entry {
        Decision decision;
        Clock::time_point expires;
    };
    mutable std::mutex m_mutex;
    std::unordered_map<std::string, Entry> m_entries;
};

}  // namespace proxy::access
