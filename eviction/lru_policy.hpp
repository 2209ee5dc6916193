#pragma once

#include "eviction/entry_list.hpp"
#include "eviction/entry_pool.hpp"
#include "eviction/pooled_policy.hpp"

namespace eviction {

// Least recently used: one list in access order; the victim is the least recently used
// evictable object.
class LruPolicy final : public PooledPolicy {
  public:
    explicit LruPolicy(std::uint64_t capacity_bytes) : PooledPolicy(capacity_bytes) {}

    std::string_view name() const override { return "lru"; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override { on_remove(key); }

  private:
    std::optional<Key> find_victim(const Evictable& evictable) override;

    EntryList m_list;
};

}  // namespace eviction
