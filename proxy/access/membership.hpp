#pragma once
// Which digests belong to a repository of a passthrough upstream: the manifests served under it
// after the upstream said yes, and what they refer to. A digest is served from the store for
// repository R only if it is a member of R; else the upstream is asked with the caller's
// credentials. Safe from several threads.

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/digest.hpp"

namespace proxy::access {

class Membership {
  public:
    void add(std::size_t upstream, std::string_view repo, const store::Digest& manifest,
             const std::vector<store::Digest>& children);
    bool contains(std::size_t upstream, std::string_view repo, const store::Digest& digest) const;
    // A member of some repository: content a passthrough upstream guards, not to be served
    // through another upstream's path on the strength of being in the store.
    bool guarded(const store::Digest& digest) const;

  private:
    static std::string key(std::size_t upstream, std::string_view repo);
    mutable std::mutex m_mutex;
    std::unordered_map<std::string, std::unordered_set<std::string>> m_members;
    std::unordered_set<std::string> m_guarded;
};

}  // namespace proxy::access
