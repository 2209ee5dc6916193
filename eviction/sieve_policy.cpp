#include "eviction/sieve_policy.hpp"

namespace eviction {

void SievePolicy::on_insert(Key key, std::uint64_t bytes) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) {
        m_queue.resize_member(m_pool, i, bytes);
        m_pool.resize_entry(i, bytes);
        m_pool[i].visited = true;
        return;
    }
    m_queue.push_front(m_pool, m_pool.add(key, bytes));
    m_newest = key;
}

void SievePolicy::on_hit(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) m_pool[i].visited = true;
}

void SievePolicy::on_remove(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    // The hand continues from the removed object's newer neighbour, as after an eviction.
    if (m_hand == i) m_hand = m_pool[i].prev;
    m_queue.remove(m_pool, i);
    m_pool.erase(i);
}

std::optional<Key> SievePolicy::find_victim(const Evictable& evictable) {
    if (m_queue.empty()) return std::nullopt;
    std::uint32_t i = m_hand != k_nil ? m_hand : m_queue.back();
    // Two full rounds: the first may only clear visited bits.
    for (std::size_t steps = 0; steps <= 2 * m_queue.count(); ++steps) {
        if (i == k_nil) i = m_queue.back();
        Entry& e = m_pool[i];
        if (evictable && !evictable(e.key)) {
            i = e.prev;
            continue;
        }
        if (e.visited) {
            e.visited = false;
            i = e.prev;
            continue;
        }
        m_hand = i;
        return e.key;
    }
    m_hand = i;
    return std::nullopt;
}

}  // namespace eviction
