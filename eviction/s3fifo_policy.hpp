#pragma once

#include <deque>
#include <unordered_map>
#include <utility>

#include "eviction/entry_list.hpp"
#include "eviction/entry_pool.hpp"
#include "eviction/pooled_policy.hpp"

namespace eviction {

// S3-FIFO (Yang et al., SOSP'23): a small FIFO (10% of the bytes), a main FIFO and a ghost
// FIFO of keys only, as long (in entries) as the main FIFO can hold objects. Hits bump a frequency
// capped at 3. New objects enter the small FIFO, or the main FIFO if their key is in the ghost.
// Evicting from the small FIFO: an object hit since insertion moves to the main FIFO (frequency
// cleared), otherwise it leaves and its key enters the ghost. Evicting from the main FIFO: an
// object with frequency > 0 is reinserted at the head with frequency - 1, otherwise it leaves.
// The small FIFO is evicted from while it holds more than its share, the main FIFO otherwise.
class S3FifoPolicy final : public PooledPolicy {
  public:
    explicit S3FifoPolicy(std::uint64_t capacity_bytes) : PooledPolicy(0) {
        set_capacity(capacity_bytes);
    }

    std::string_view name() const override { return "s3fifo"; }
    void set_capacity(std::uint64_t bytes) override;
    void on_insert(Key key, std::uint64_t bytes) override;
    void on_hit(Key key) override;
    void on_remove(Key key) override;
    void on_evict(Key key) override;

    // For tests and statistics.
    bool in_small(Key key) const;
    bool in_main(Key key) const;
    bool in_ghost(Key key) const { return m_ghost_index.contains(key); }
    std::size_t ghost_size() const { return m_ghost_index.size(); }

  private:
    std::optional<Key> find_victim(const Evictable& evictable) override;

    static constexpr std::uint8_t k_small = 1;
    static constexpr std::uint8_t k_main = 2;
    static constexpr std::uint32_t k_max_freq = 3;

    std::optional<Key> evict_small(const Evictable& evictable);
    std::optional<Key> evict_main(const Evictable& evictable);
    void ghost_add(Key key);
    void ghost_trim();
    void forget(std::uint32_t i);

    std::uint64_t m_small_capacity = 0;
    EntryList m_small;
    EntryList m_main;
    // Ghost FIFO: (key, sequence) in insertion order; a queue element is live while the index
    // maps its key to the same sequence (removal from the middle is lazy).
    std::deque<std::pair<Key, std::uint64_t>> m_ghost;
    std::unordered_map<Key, std::uint64_t> m_ghost_index;
    std::uint64_t m_ghost_seq = 0;
    std::size_t m_ghost_limit = 0;
};

}  // namespace eviction
