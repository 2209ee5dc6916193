#include "eviction/belady.hpp"

#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eviction {

CacheStats simulate_belady(std::span<const Request> requests, std::uint64_t capacity_bytes) {
    const std::size_t n = requests.size();
    // next_use[i]: index of the next request for the same key; keys never requested again get
    // distinct positions beyond the end, so every heap entry has a unique time.
    std::vector<std::uint64_t> next_use(n);
    {
        std::unordered_map<Key, std::uint64_t> seen;
        seen.reserve(n / 4 + 16);
        for (std::size_t i = n; i-- > 0;) {
            auto [it, inserted] = seen.try_emplace(requests[i].key, 0);
            next_use[i] = inserted ? 2 * n - i : it->second;
            it->second = i;
        }
    }

    CacheStats stats;
    std::unordered_map<Key, std::uint64_t> resident;  // key -> its next use
    std::priority_queue<std::pair<std::uint64_t, Key>> farthest;
    std::unordered_map<Key, std::uint64_t> sizes;
    std::uint64_t used = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const Request& r = requests[i];
        ++stats.requests;
        stats.bytes_requested += r.bytes;
        auto it = resident.find(r.key);
        if (it != resident.end()) {
            ++stats.hits;
            stats.bytes_hit += r.bytes;
            it->second = next_use[i];
            farthest.emplace(next_use[i], r.key);
            continue;
        }
        if (r.bytes > capacity_bytes) continue;
        resident.emplace(r.key, next_use[i]);
        sizes[r.key] = r.bytes;
        used += r.bytes;
        farthest.emplace(next_use[i], r.key);
        while (used > capacity_bytes && !farthest.empty()) {
            auto [when, key] = farthest.top();
            farthest.pop();
            auto victim = resident.find(key);
            if (victim == resident.end() || victim->second != when) continue;  // stale
            used -= sizes[key];
            resident.erase(victim);
            ++stats.evictions;
        }
    }
    return stats;
}

}  // namespace eviction
