#pragma once

#include <cstdint>
#include <span>

#include "eviction/cache_stats.hpp"
#include "eviction/policy.hpp"

namespace eviction {

struct Request {
    Key key = 0;
    std::uint64_t bytes = 0;
};

// Belady's MIN adapted to sizes, the offline reference: on a miss the object is inserted and
// the objects whose next use is farthest in the future (never used again first) are evicted
// until the contents fit; the new object itself goes if its next use is the farthest. Objects
// larger than the capacity are misses and not inserted. With sizes this is a heuristic, not
// the optimum, but it is the reference other simulators report.
CacheStats simulate_belady(std::span<const Request> requests, std::uint64_t capacity_bytes);

}  // namespace eviction
