#pragma once
// An eviction::Policy keyed by digest. The pure policies know objects by dense integer ids;
// this maps store digests to ids and back.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>

#include "eviction/policy.hpp"
#include "store/digest.hpp"

namespace cache {

class VictimPolicy {
  public:
    // The policy called `name` for `capacity` bytes; nullptr for an unknown name.
    static std::unique_ptr<VictimPolicy> make(std::string_view name, std::uint64_t capacity);

    explicit VictimPolicy(std::unique_ptr<eviction::Policy> policy);

    std::string_view name() const { return m_policy->name(); }
    void set_capacity(std::uint64_t bytes) { m_policy->set_capacity(bytes); }

    void on_insert(const store::Digest& digest, std::uint64_t bytes);
    void on_hit(const store::Digest& digest);
    // Forgets a blob removed for another reason than the policy's choice (admin, max_age).
    void on_remove(const store::Digest& digest);
    // Forgets a blob the policy chose (a next_victim() result) after it was removed.
    void on_evict(const store::Digest& digest);
    // The blob to remove next among those `evictable` accepts; it stays tracked until
    // on_evict()/on_remove(), so asking again returns the same one.
    std::optional<store::Digest> next_victim(
        const std::function<bool(const store::Digest&)>& evictable);

    std::size_t size() const { return m_policy->size(); }

    // The policy's key for a digest: its first eight bytes, read as a native integer. Digests
    // are uniformly distributed, and a digest evicted and inserted again gets the same key, so
    // a policy's ghost entries (S3-FIFO, W-TinyLFU's sketch) recognise it. A tracked digest
    // with the same key (about 2^-64 a pair) moves the newcomer to the next free key.
    static eviction::Key natural_key(const store::Digest& digest);

  private:
    std::optional<eviction::Key> find(const store::Digest& digest) const;
    eviction::Key free_key(const store::Digest& digest) const;
    void forget(const store::Digest& digest);

    std::unique_ptr<eviction::Policy> m_policy;
    std::unordered_map<store::Digest, eviction::Key, store::DigestHash> m_ids;
    std::unordered_map<eviction::Key, store::Digest> m_digests;
};

std::span<const std::string_view> known_policies();
bool is_known_policy(std::string_view name);

}  // namespace cache
