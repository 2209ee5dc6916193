#pragma once

#include <cstdint>

namespace eviction {

// Request and byte counts of a replay; miss ratios are 0 for an empty replay.
struct CacheStats {
    std::uint64_t requests = 0;
    std::uint64_t hits = 0;
    std::uint64_t bytes_requested = 0;
    std::uint64_t bytes_hit = 0;
    std::uint64_t evictions = 0;

    double object_miss_ratio() const {
        return requests == 0 ? 0.0 : 1.0 - static_cast<double>(hits) / requests;
    }
    double byte_miss_ratio() const {
        return bytes_requested == 0 ? 0.0 : 1.0 - static_cast<double>(bytes_hit) / bytes_requested;
    }
};

}  // namespace eviction
