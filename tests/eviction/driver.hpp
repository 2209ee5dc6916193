#pragma once

#include <cstdint>
#include <vector>

#include "eviction/policy.hpp"

namespace eviction::testing {

// Drives a policy like a cache of unit-sized (or given-size) objects and records victims.
struct Driver {
    Policy& policy;
    std::vector<Key> victims;

    void get(Key key, std::uint64_t bytes = 1) {
        if (policy.contains(key)) {
            policy.on_hit(key);
            return;
        }
        policy.on_insert(key, bytes);
        while (policy.bytes() > policy.capacity()) {
            auto victim = policy.evict();
            if (!victim) break;
            victims.push_back(*victim);
        }
    }
};

}  // namespace eviction::testing
