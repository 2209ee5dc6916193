#include "eviction/lru_policy.hpp"

namespace eviction {

void LruPolicy::on_insert(Key key, std::uint64_t bytes) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) {
        m_list.resize_member(m_pool, i, bytes);
        m_pool.resize_entry(i, bytes);
        m_list.move_to_front(m_pool, i);
        return;
    }
    m_list.push_front(m_pool, m_pool.add(key, bytes));
    m_newest = key;
}

void LruPolicy::on_hit(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) m_list.move_to_front(m_pool, i);
}

void LruPolicy::on_remove(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    m_list.remove(m_pool, i);
    m_pool.erase(i);
}

std::optional<Key> LruPolicy::find_victim(const Evictable& evictable) {
    for (std::uint32_t i = m_list.back(); i != k_nil; i = m_pool[i].prev) {
        if (!evictable || evictable(m_pool[i].key)) return m_pool[i].key;
    }
    return std::nullopt;
}

}  // namespace eviction
