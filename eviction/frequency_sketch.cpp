#include "eviction/frequency_sketch.hpp"

#include <algorithm>
#include <bit>

namespace eviction {

namespace {

std::uint64_t mix(std::uint64_t x) {
    // splitmix64 finaliser: spreads dense ids over all bits.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The i-th index of a key from its (well mixed) hash by double hashing (Kirsch and
// Mitzenmacher): one mix per access instead of one per row and probe. Callers keep low bits.
std::uint64_t rehash(std::uint64_t hash, int i) {
    const std::uint64_t step = (hash >> 32) | 1;
    return hash + static_cast<std::uint64_t>(i) * step;
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t expected_entries) {
    ensure_capacity(expected_entries);
}

bool FrequencySketch::ensure_capacity(std::size_t expected_entries) {
    std::size_t width = std::bit_ceil(std::max<std::size_t>(expected_entries, 64));
    if (width <= m_width) return false;
    m_width = width;
    m_counters.assign(k_depth * m_width / 16, 0);
    m_doorkeeper_bits = 8 * m_width;
    m_doorkeeper.assign(m_doorkeeper_bits / 64, 0);
    m_sample_period = 10 * m_width;
    m_samples = 0;
    return true;
}

std::size_t FrequencySketch::counter_index(int row, std::uint64_t hash) const {
    return static_cast<std::size_t>(row) * m_width + (rehash(hash, row) & (m_width - 1));
}

std::uint32_t FrequencySketch::counter(int row, std::uint64_t hash) const {
    std::size_t index = counter_index(row, hash);
    return static_cast<std::uint32_t>((m_counters[index / 16] >> (4 * (index % 16))) & 0xf);
}

bool FrequencySketch::doorkeeper_contains(std::uint64_t hash) const {
    for (int i = 0; i < k_doorkeeper_hashes; ++i) {
        std::size_t bit = rehash(hash, k_depth + i) & (m_doorkeeper_bits - 1);
        if ((m_doorkeeper[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
    }
    return true;
}

void FrequencySketch::doorkeeper_add(std::uint64_t hash) {
    for (int i = 0; i < k_doorkeeper_hashes; ++i) {
        std::size_t bit = rehash(hash, k_depth + i) & (m_doorkeeper_bits - 1);
        m_doorkeeper[bit / 64] |= std::uint64_t{1} << (bit % 64);
    }
}

void FrequencySketch::increment(std::uint64_t key) {
    std::uint64_t hash = mix(key);
    if (!doorkeeper_contains(hash)) {
        doorkeeper_add(hash);
    } else {
        for (int row = 0; row < k_depth; ++row) {
            std::size_t index = counter_index(row, hash);
            std::uint64_t& word = m_counters[index / 16];
            int shift = 4 * static_cast<int>(index % 16);
            if (((word >> shift) & 0xf) != 0xf) word += std::uint64_t{1} << shift;
        }
    }
    if (++m_samples >= m_sample_period) halve();
}

std::uint32_t FrequencySketch::frequency(std::uint64_t key) const {
    std::uint64_t hash = mix(key);
    std::uint32_t estimate = 15;
    for (int row = 0; row < k_depth; ++row)
        estimate = std::min(estimate, counter(row, hash));
    return estimate + (doorkeeper_contains(hash) ? 1 : 0);
}

void FrequencySketch::halve() {
    for (std::uint64_t& word : m_counters)
        word = (word >> 1) & 0x7777777777777777ULL;
    std::fill(m_doorkeeper.begin(), m_doorkeeper.end(), 0);
    m_samples /= 2;
}

}  // namespace eviction
