#include "eviction/s3fifo_policy.hpp"

#include <algorithm>

namespace eviction {

void S3FifoPolicy::set_capacity(std::uint64_t bytes) {
    m_capacity = bytes;
    m_small_capacity = bytes / 10;
}

bool S3FifoPolicy::in_small(Key key) const {
    std::uint32_t i = m_pool.find(key);
    return i != k_nil && m_pool[i].queue == k_small;
}

bool S3FifoPolicy::in_main(Key key) const {
    std::uint32_t i = m_pool.find(key);
    return i != k_nil && m_pool[i].queue == k_main;
}

void S3FifoPolicy::on_insert(Key key, std::uint64_t bytes) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) {
        EntryList& list = m_pool[i].queue == k_small ? m_small : m_main;
        list.resize_member(m_pool, i, bytes);
        m_pool.resize_entry(i, bytes);
        on_hit(key);
        return;
    }
    i = m_pool.add(key, bytes);
    m_newest = key;
    auto ghost = m_ghost_index.find(key);
    if (ghost != m_ghost_index.end()) {
        m_ghost_index.erase(ghost);
        m_pool[i].queue = k_main;
        m_main.push_front(m_pool, i);
    } else {
        m_pool[i].queue = k_small;
        m_small.push_front(m_pool, i);
    }
}

void S3FifoPolicy::on_hit(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) m_pool[i].freq = std::min(m_pool[i].freq + 1, k_max_freq);
}

void S3FifoPolicy::forget(std::uint32_t i) {
    (m_pool[i].queue == k_small ? m_small : m_main).remove(m_pool, i);
    m_pool.erase(i);
}

void S3FifoPolicy::on_remove(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) forget(i);
    ghost_trim();
}

void S3FifoPolicy::on_evict(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    bool from_small = m_pool[i].queue == k_small;
    forget(i);
    if (from_small) ghost_add(key);
    ghost_trim();
}

void S3FifoPolicy::ghost_add(Key key) {
    std::uint64_t seq = ++m_ghost_seq;
    m_ghost_index[key] = seq;
    m_ghost.emplace_back(key, seq);
}

void S3FifoPolicy::ghost_trim() {
    // As many ghost entries as the main FIFO holds objects when full, estimated from the mean
    // size of the objects tracked now (kept while the cache is empty).
    if (m_pool.size() > 0) {
        m_ghost_limit = static_cast<std::size_t>(
            static_cast<double>(m_capacity - m_small_capacity) *
            static_cast<double>(m_pool.size()) /
            static_cast<double>(std::max<std::uint64_t>(m_pool.bytes(), 1)));
    }
    const std::size_t limit = m_ghost_limit;
    while (m_ghost_index.size() > limit && !m_ghost.empty()) {
        auto [key, seq] = m_ghost.front();
        m_ghost.pop_front();
        auto it = m_ghost_index.find(key);
        if (it != m_ghost_index.end() && it->second == seq) m_ghost_index.erase(it);
    }
    // Once most queue elements are stale, compact: amortised O(1), the order of live ones kept.
    if (m_ghost.size() > 2 * m_ghost_index.size() + 16) {
        std::erase_if(m_ghost, [this](const std::pair<Key, std::uint64_t>& element) {
            auto it = m_ghost_index.find(element.first);
            return it == m_ghost_index.end() || it->second != element.second;
        });
    }
}

std::optional<Key> S3FifoPolicy::evict_small(const Evictable& evictable) {
    std::size_t skipped = 0;
    while (!m_small.empty() && skipped < m_small.count()) {
        std::uint32_t i = m_small.back();
        Entry& e = m_pool[i];
        if (evictable && !evictable(e.key)) {
            m_small.move_to_front(m_pool, i);
            ++skipped;
            continue;
        }
        if (e.freq > 0) {
            m_small.remove(m_pool, i);
            e.freq = 0;
            e.queue = k_main;
            m_main.push_front(m_pool, i);
            continue;
        }
        return e.key;
    }
    return std::nullopt;
}

std::optional<Key> S3FifoPolicy::evict_main(const Evictable& evictable) {
    std::size_t skipped = 0;
    while (!m_main.empty() && skipped < m_main.count()) {
        std::uint32_t i = m_main.back();
        Entry& e = m_pool[i];
        if (evictable && !evictable(e.key)) {
            m_main.move_to_front(m_pool, i);
            ++skipped;
            continue;
        }
        if (e.freq > 0) {
            --e.freq;
            m_main.move_to_front(m_pool, i);
            skipped = 0;
            continue;
        }
        return e.key;
    }
    return std::nullopt;
}

std::optional<Key> S3FifoPolicy::find_victim(const Evictable& evictable) {
    if (m_small.bytes() > m_small_capacity || m_main.empty()) {
        if (auto key = evict_small(evictable)) return key;
        return evict_main(evictable);
    }
    if (auto key = evict_main(evictable)) return key;
    return evict_small(evictable);
}

}  // namespace eviction
