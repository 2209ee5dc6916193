#include "cache/victim_policy.hpp"

#include <algorithm>
#include <cstring>

namespace cache {

std::unique_ptr<VictimPolicy> VictimPolicy::make(std::string_view name, std::uint64_t capacity) {
    auto policy = eviction::make_policy(name, capacity);
    if (!policy) return nullptr;
    return std::make_unique<VictimPolicy>(std::move(policy));
}

VictimPolicy::VictimPolicy(std::unique_ptr<eviction::Policy> policy)
    : m_policy(std::move(policy)) {}

std::optional<eviction::Key> VictimPolicy::find(const store::Digest& digest) const {
    auto it = m_ids.find(digest);
    if (it == m_ids.end()) return std::nullopt;
    return it->second;
}

void VictimPolicy::forget(const store::Digest& digest) {
    auto it = m_ids.find(digest);
    if (it == m_ids.end()) return;
    m_digests.erase(it->second);
    m_ids.erase(it);
}

eviction::Key VictimPolicy::natural_key(const store::Digest& digest) {
    eviction::Key key = 0;
    std::memcpy(&key, digest.bytes.data(), sizeof key);
    return key;
}

eviction::Key VictimPolicy::free_key(const store::Digest& digest) const {
    eviction::Key key = natural_key(digest);
    for (auto it = m_digests.find(key); it != m_digests.end() && it->second != digest;
         it = m_digests.find(key))
        ++key;
    return key;
}

void VictimPolicy::on_insert(const store::Digest& digest, std::uint64_t bytes) {
    auto it = m_ids.find(digest);
    if (it == m_ids.end()) {
        const eviction::Key key = free_key(digest);
        it = m_ids.emplace(digest, key).first;
        m_digests.emplace(key, digest);
    }
    m_policy->on_insert(it->second, bytes);
}

void VictimPolicy::on_hit(const store::Digest& digest) {
    if (auto id = find(digest)) m_policy->on_hit(*id);
}

void VictimPolicy::on_remove(const store::Digest& digest) {
    if (auto id = find(digest)) m_policy->on_remove(*id);
    forget(digest);
}

void VictimPolicy::on_evict(const store::Digest& digest) {
    if (auto id = find(digest)) m_policy->on_evict(*id);
    forget(digest);
}

std::optional<store::Digest> VictimPolicy::next_victim(
    const std::function<bool(const store::Digest&)>& evictable) {
    eviction::Evictable filter;
    if (evictable) {
        filter = [&](eviction::Key key) {
            auto it = m_digests.find(key);
            return it != m_digests.end() && evictable(it->second);
        };
    }
    auto key = m_policy->next_victim(filter);
    if (!key) return std::nullopt;
    auto it = m_digests.find(*key);
    if (it == m_digests.end()) return std::nullopt;
    return it->second;
}

std::span<const std::string_view> known_policies() {
    return eviction::k_policy_names;
}

bool is_known_policy(std::string_view name) {
    return std::find(std::begin(eviction::k_policy_names), std::end(eviction::k_policy_names),
                     name) != std::end(eviction::k_policy_names);
}

}  // namespace cache
