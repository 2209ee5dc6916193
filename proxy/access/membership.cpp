#include "proxy/access/membership.hpp"

namespace proxy::access {

std::string Membership::key(std::size_t upstream, std::string_view repo) {
    return std::to_string(upstream) + "\n" + std::string(repo);
}

void Membership::add(std::size_t upstream, std::string_view repo, const store::Digest& manifest,
                     const std::vector<store::Digest>& children) {
    const std::lock_guard lock(m_mutex);
    auto& members = m_members[key(upstream, repo)];
    members.insert(manifest.str());
    m_guarded.insert(manifest.str());
    for (const auto& child : children) {
        members.insert(child.str());
        m_guarded.insert(child.str());
    }
}

bool Membership::contains(std::size_t upstream, std::string_view repo,
                          const store::Digest& digest) const {
    const std::lock_guard lock(m_mutex);
    const auto it = m_members.find(key(upstream, repo));
    return it != m_members.end() && it->second.contains(digest.str());
}

bool Membership::guarded(const store::Digest& digest) const {
    const std::lock_guard lock(m_mutex);
    return m_guarded.contains(digest.str());
}

}  // namespace proxy::access
