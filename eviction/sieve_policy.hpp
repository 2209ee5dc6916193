#pragma once

#include "eviction/entry_list.hpp"
#include "eviction/entry_pool.hpp"
#include "eviction/pooled_policy.hpp"

namespace eviction {

// SIEVE (Zhang et al., NSDI'24): one FIFO queue, a visited bit per object and a hand that
// moves from the tail (oldest) towards the head. A hit only sets the visited bit. To evict,
// the hand clears visited bits as it passes and stops at the first unvisited object; objects
// it passes keep their position. The hand wraps to the tail after reaching the head.
class SievePolicy final : public PooledPolicy {
  public:
    explicit SievePolicy(std::uint64_t capacity_bytes) : PooledPolicy(capacity_bytes) {}

    std::string_view name() const override { return "sieve"; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override { on_remove(key); }

  private:
    std::optional<Key> find_victim(const Evictable& evictable) override;

    EntryList m_queue;
    std::uint32_t m_hand = k_nil;
};

}  // namespace eviction
