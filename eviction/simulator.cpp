#include "eviction/simulator.hpp"

namespace eviction {

Simulator::Outcome Simulator::request(Key key, std::uint64_t bytes) {
    ++m_stats.requests;
    m_stats.bytes_requested += bytes;
    if (m_policy.contains(key)) {
        ++m_stats.hits;
        m_stats.bytes_hit += bytes;
        m_policy.on_hit(key);
        return Outcome::hit;
    }
    if (bytes > m_policy.capacity()) return Outcome::miss_too_large;
    m_policy.on_insert(key, bytes);
    shrink_to_capacity();
    return Outcome::miss;
}

void Simulator::shrink_to_capacity() {
    while (m_policy.bytes() > m_policy.capacity()) {
        if (!m_policy.evict()) break;
        ++m_stats.evictions;
    }
}

}  // namespace eviction
