#include "eviction/wtinylfu_policy.hpp"

namespace eviction {

void WTinyLfuPolicy::set_capacity(std::uint64_t bytes) {
    m_capacity = bytes;
    m_window_capacity = bytes / 100;
    m_main_capacity = bytes - m_window_capacity;
    m_protected_capacity = m_main_capacity / 5 * 4;
    demote_protected_overflow();
    drain_window();
}

std::uint8_t WTinyLfuPolicy::segment(Key key) const {
    std::uint32_t i = m_pool.find(key);
    return i == k_nil ? k_none : m_pool[i].queue;
}

EntryList& WTinyLfuPolicy::list_of(std::uint8_t segment) {
    if (segment == k_window) return m_window;
    if (segment == k_probation) return m_probation;
    return m_protected;
}

void WTinyLfuPolicy::move(std::uint32_t i, EntryList& to, std::uint8_t segment) {
    list_of(m_pool[i].queue).remove(m_pool, i);
    m_pool[i].queue = segment;
    to.push_front(m_pool, i);
}

void WTinyLfuPolicy::demote_protected_overflow() {
    while (m_protected.bytes() > m_protected_capacity && m_protected.count() > 1) {
        move(m_protected.back(), m_probation, k_probation);
    }
}

void WTinyLfuPolicy::on_insert(Key key, std::uint64_t bytes) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) {
        list_of(m_pool[i].queue).resize_member(m_pool, i, bytes);
        m_pool.resize_entry(i, bytes);
        on_hit(key);
        return;
    }
    m_sketch.increment(key);
    i = m_pool.add(key, bytes);
    m_pool[i].queue = k_window;
    m_window.push_front(m_pool, i);
    m_sketch.ensure_capacity(m_pool.size());
    drain_window();
}

void WTinyLfuPolicy::drain_window() {
    // As Caffeine's maintenance after a write: window overflow moves to probation while the
    // main cache has room; a candidate that does not fit waits for next_victim().
    while (m_window.bytes() > m_window_capacity && m_window.count() > 1) {
        std::uint32_t candidate = m_window.back();
        if (m_probation.bytes() + m_protected.bytes() + m_pool[candidate].bytes > m_main_capacity) {
            break;
        }
        move(candidate, m_probation, k_probation);
    }
}

void WTinyLfuPolicy::on_hit(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    m_sketch.increment(key);
    switch (m_pool[i].queue) {
        case k_window:
            m_window.move_to_front(m_pool, i);
            break;
        case k_probation:
            move(i, m_protected, k_protected);
            demote_protected_overflow();
            break;
        default:
            m_protected.move_to_front(m_pool, i);
            break;
    }
}

void WTinyLfuPolicy::on_remove(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    list_of(m_pool[i].queue).remove(m_pool, i);
    m_pool.erase(i);
    drain_window();
}

std::uint32_t WTinyLfuPolicy::lru_evictable(const EntryList& list,
                                            const Evictable& evictable) const {
    for (std::uint32_t i = list.back(); i != k_nil; i = m_pool[i].prev) {
        if (!evictable || evictable(m_pool[i].key)) return i;
    }
    return k_nil;
}

std::optional<Key> WTinyLfuPolicy::next_victim(const Evictable& evictable) {
    // Window overflow flows into probation while the main cache has room; the first candidate
    // that does not fit faces the probation victim.
    while (m_window.bytes() > m_window_capacity && !m_window.empty()) {
        std::uint32_t candidate = m_window.back();
        const Entry& c = m_pool[candidate];
        const std::uint64_t main_bytes = m_probation.bytes() + m_protected.bytes();
        if (main_bytes + c.bytes <= m_main_capacity || (evictable && !evictable(c.key))) {
            move(candidate, m_probation, k_probation);
            continue;
        }
        std::uint32_t victim = lru_evictable(m_probation, evictable);
        if (victim == k_nil) victim = lru_evictable(m_protected, evictable);
        if (victim == k_nil) return c.key;
        if (m_sketch.frequency(c.key) > m_sketch.frequency(m_pool[victim].key)) {
            return m_pool[victim].key;
        }
        return c.key;
    }
    for (const EntryList* list : {&m_probation, &m_protected, &m_window}) {
        std::uint32_t victim = lru_evictable(*list, evictable);
        if (victim != k_nil) return m_pool[victim].key;
    }
    return std::nullopt;
}

}  // namespace eviction
