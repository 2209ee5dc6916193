#pragma once

#include "eviction/entry_list.hpp"
#include "eviction/entry_pool.hpp"
#include "eviction/policy.hpp"

namespace eviction {

// SIEVE (Zhang et al., NSDI'24): one FIFO queue, a visited bit per object and a hand that
// moves from the tail (oldest) towards the head. A hit only sets the visited bit. To evict,
// the hand clears visited bits as it passes and stops at the first unvisited object; objects
// it passes keep their position. The hand wraps to the tail after reaching the head.
class SievePolicy final : public Policy {
  public:
    explicit SievePolicy(std::uint64_t capacity_bytes) : m_capacity(capacity_bytes) {}

    std::string_view name() const override { return "sieve"; }
    void set_capacity(std::uint64_t bytes) override { m_capacity = bytes; }
    std::uint64_t capacity() const override { return m_capacity; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override { on_remove(key); }
    std::optional<Key> next_victim(const Evictable& evictable) override;
    bool contains(Key key) const override { return m_pool.contains(key); }
    std::uint64_t bytes() const override { return m_pool.bytes(); }
    std::size_t size() const override { return m_pool.size(); }

  private:
    std::optional<Key> find_victim(const Evictable& evictable);

    std::uint64_t m_capacity;
    EntryPool m_pool;
    std::optional<Key> m_newest;  // spared by next_victim(), see spare_newest()
    EntryList m_queue;
    std::uint32_t m_hand = k_nil;
};

}  // namespace eviction
