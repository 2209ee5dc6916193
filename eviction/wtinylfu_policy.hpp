#pragma once

#include "eviction/entry_list.hpp"
#include "eviction/entry_pool.hpp"
#include "eviction/frequency_sketch.hpp"
#include "eviction/policy.hpp"

namespace eviction {

// W-TinyLFU (Einziger et al.; Caffeine's design): new objects enter an LRU window of 1% of
// the bytes. Objects pushed out of the window become candidates for the main cache, a
// segmented LRU (probation 20%, protected 80% of the main bytes). When the main cache has no
// room for a candidate, the candidate is compared with the probation LRU victim by their
// TinyLFU frequency estimate (FrequencySketch); the candidate is admitted only if it is
// strictly more frequent, otherwise the candidate itself is the victim. A hit in probation
// promotes to protected; protected overflow demotes its LRU back to probation.
// Unlike Caffeine, the window size is fixed (no hill climbing) and a warm candidate is never
// admitted at random, so runs are deterministic.
class WTinyLfuPolicy final : public Policy {
  public:
    explicit WTinyLfuPolicy(std::uint64_t capacity_bytes) { set_capacity(capacity_bytes); }

    std::string_view name() const override { return "wtinylfu"; }
    void set_capacity(std::uint64_t bytes) override;
    std::uint64_t capacity() const override { return m_capacity; }
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override { on_remove(key); }
    std::optional<Key> next_victim(const Evictable& evictable) override;
    bool contains(Key key) const override { return m_pool.contains(key); }
    std::uint64_t bytes() const override { return m_pool.bytes(); }
    std::size_t size() const override { return m_pool.size(); }

    // For tests and statistics.
    std::uint32_t frequency(Key key) const { return m_sketch.frequency(key); }
    bool in_window(Key key) const { return segment(key) == k_window; }
    bool in_probation(Key key) const { return segment(key) == k_probation; }
    bool in_protected(Key key) const { return segment(key) == k_protected; }

  private:
    static constexpr std::uint8_t k_none = 0;
    static constexpr std::uint8_t k_window = 1;
    static constexpr std::uint8_t k_probation = 2;
    static constexpr std::uint8_t k_protected = 3;

    std::uint8_t segment(Key key) const;
    EntryList& list_of(std::uint8_t segment);
    void move(std::uint32_t i, EntryList& to, std::uint8_t segment);
    void demote_protected_overflow();
    void drain_window();
    std::uint32_t lru_evictable(const EntryList& list, const Evictable& evictable) const;

    std::uint64_t m_capacity = 0;
    std::uint64_t m_window_capacity = 0;
    std::uint64_t m_main_capacity = 0;
    std::uint64_t m_protected_capacity = 0;
    EntryPool m_pool;
    EntryList m_window;
    EntryList m_probation;
    EntryList m_protected;
    FrequencySketch m_sketch;
};

}  // namespace eviction
