#pragma once

#include <vector>

#include "eviction/entry_pool.hpp"
#include "eviction/policy.hpp"

namespace eviction {

// LFU with dynamic aging (LFUDA; Arlitt et al., as in Squid): each object has the priority
// K = F + L, where F is its access count and L the cache age, which is set to the priority of
// the last evicted object. The victim has the lowest priority; ties go to the least recently
// used. Aging lets formerly popular objects leave once newer ones catch up.
class LfudaPolicy final : public Policy {
  public:
    explicit LfudaPolicy(std::uint64_t capacity_bytes) : m_capacity(capacity_bytes) {}

    std::string_view name() const override { return "lfu"; }
    void set_capacity(std::uint64_t bytes) override { m_capacity = bytes; }
    std::uint64_t capacity() const override { return m_capacity; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override;
    std::optional<Key> next_victim(const Evictable& evictable) override;
    bool contains(Key key) const override { return m_pool.contains(key); }
    std::uint64_t bytes() const override { return m_pool.bytes(); }
    std::size_t size() const override { return m_pool.size(); }

    // The cache age L.
    std::uint64_t age() const { return m_age; }
    // The priority of a tracked key (0 if unknown).
    std::uint64_t priority(Key key) const;

  private:
    std::optional<Key> find_victim(const Evictable& evictable);

    bool less(std::uint32_t a, std::uint32_t b) const;
    void place(std::size_t pos, std::uint32_t i);
    void sift_up(std::size_t pos);
    void sift_down(std::size_t pos);
    void heap_erase(std::uint32_t i);
    void touch(std::uint32_t i);

    std::uint64_t m_capacity;
    std::uint64_t m_age = 0;
    std::uint64_t m_clock = 0;
    EntryPool m_pool;
    std::optional<Key> m_newest;          // spared by next_victim(), see spare_newest()
    std::vector<std::uint32_t> m_heap;    // binary min-heap of entry indices
    std::vector<std::size_t> m_frontier;  // scratch space of find_victim()
};

}  // namespace eviction
