#pragma once

#include <vector>

#include "eviction/entry_pool.hpp"
#include "eviction/pooled_policy.hpp"

namespace eviction {

// LFU with dynamic aging (LFUDA; Arlitt et al., as in Squid): each object has the priority
// K = F + L, where F is its access count and L the cache age, which is set to the priority of
// the last evicted object. The victim has the lowest priority; ties go to the least recently
// used. Aging lets formerly popular objects leave once newer ones catch up.
class LfudaPolicy final : public PooledPolicy {
  public:
    explicit LfudaPolicy(std::uint64_t capacity_bytes) : PooledPolicy(capacity_bytes) {}

    std::string_view name() const override { return "lfu"; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override;

    // The cache age L.
    std::uint64_t age() const { return m_age; }
    // The priority of a tracked key (0 if unknown).
    std::uint64_t priority(Key key) const;

  private:
    std::optional<Key> find_victim(const Evictable& evictable) override;

    bool less(std::uint32_t a, std::uint32_t b) const;
    void place(std::size_t pos, std::uint32_t i);
    void sift_up(std::size_t pos);
    void sift_down(std::size_t pos);
    void heap_erase(std::uint32_t i);
    void touch(std::uint32_t i);

    std::uint64_t m_age = 0;
    std::uint64_t m_clock = 0;
    std::vector<std::uint32_t> m_heap;    // binary min-heap of entry indices
    std::vector<std::size_t> m_frontier;  // scratch space of find_victim()
};

}  // namespace eviction
