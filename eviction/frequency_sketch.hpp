#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace eviction {

// TinyLFU's approximate access-frequency history (Einziger et al.; as in Caffeine): a
// count-min sketch of 4-bit counters (depth 4) behind a doorkeeper Bloom filter. The first
// access of a key only sets its doorkeeper bits; later ones increment the counters, so
// one-hit keys never reach the sketch. After `10 × width` recorded accesses every counter is
// halved and the doorkeeper cleared, so old popularity fades.
class FrequencySketch {
  public:
    // Sized for about `expected_entries` distinct keys (at least 64).
    explicit FrequencySketch(std::size_t expected_entries = 64);

    // Grows the sketch (and forgets its history) when the cache holds many more keys than it
    // was sized for. Returns whether it was resized.
    bool ensure_capacity(std::size_t expected_entries);

    void increment(std::uint64_t key);
    // Estimated accesses in the current period, 0..16.
    std::uint32_t frequency(std::uint64_t key) const;

    std::size_t width() const { return m_width; }
    std::size_t sample_period() const { return m_sample_period; }
    std::size_t samples() const { return m_samples; }

  private:
    static constexpr int k_depth = 4;
    static constexpr int k_doorkeeper_hashes = 3;

    std::uint32_t counter(int row, std::uint64_t hash) const;
    std::size_t counter_index(int row, std::uint64_t hash) const;
    bool doorkeeper_contains(std::uint64_t hash) const;
    void doorkeeper_add(std::uint64_t hash);
    void halve();

    std::size_t m_width = 0;                // counters per row, a power of two
    std::vector<std::uint64_t> m_counters;  // 16 counters of 4 bits per word, rows in sequence
    std::vector<std::uint64_t> m_doorkeeper;
    std::size_t m_doorkeeper_bits = 0;  // a power of two
    std::size_t m_sample_period = 0;
    std::size_t m_samples = 0;
};

}  // namespace eviction
