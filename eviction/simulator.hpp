#pragma once

#include <cstdint>

#include "eviction/cache_stats.hpp"
#include "eviction/policy.hpp"

namespace eviction {

// Drives a policy as a byte-bounded cache of its capacity(), with the semantics of common
// cache simulators: a hit calls on_hit; a miss inserts the object and then evicts until the
// contents fit, unless the object alone is larger than the capacity (a miss, not inserted).
class Simulator {
  public:
    enum class Outcome { hit, miss, miss_too_large };

    explicit Simulator(Policy& policy) : m_policy(policy) {}

    Outcome request(Key key, std::uint64_t bytes);

    // Evicts until the contents fit the policy's capacity (after set_capacity()).
    void shrink_to_capacity();

    const CacheStats& stats() const { return m_stats; }

  private:
    Policy& m_policy;
    CacheStats m_stats;
};

}  // namespace eviction
