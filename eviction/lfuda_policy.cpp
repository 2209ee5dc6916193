#include "eviction/lfuda_policy.hpp"

#include <algorithm>
#include <functional>

namespace eviction {

bool LfudaPolicy::less(std::uint32_t a, std::uint32_t b) const {
    const Entry& x = m_pool[a];
    const Entry& y = m_pool[b];
    if (x.priority != y.priority) return x.priority < y.priority;
    return x.stamp < y.stamp;
}

void LfudaPolicy::place(std::size_t pos, std::uint32_t i) {
    m_heap[pos] = i;
    m_pool[i].heap_pos = static_cast<std::uint32_t>(pos);
}

void LfudaPolicy::sift_up(std::size_t pos) {
    std::uint32_t i = m_heap[pos];
    while (pos > 0) {
        std::size_t parent = (pos - 1) / 2;
        if (!less(i, m_heap[parent])) break;
        place(pos, m_heap[parent]);
        pos = parent;
    }
    place(pos, i);
}

void LfudaPolicy::sift_down(std::size_t pos) {
    std::uint32_t i = m_heap[pos];
    const std::size_t n = m_heap.size();
    for (;;) {
        std::size_t child = 2 * pos + 1;
        if (child >= n) break;
        if (child + 1 < n && less(m_heap[child + 1], m_heap[child])) ++child;
        if (!less(m_heap[child], i)) break;
        place(pos, m_heap[child]);
        pos = child;
    }
    place(pos, i);
}

void LfudaPolicy::heap_erase(std::uint32_t i) {
    std::size_t pos = m_pool[i].heap_pos;
    std::uint32_t last = m_heap.back();
    m_heap.pop_back();
    if (pos < m_heap.size()) {
        place(pos, last);
        sift_up(pos);
        sift_down(m_pool[last].heap_pos);
    }
    m_pool[i].heap_pos = k_nil;
}

void LfudaPolicy::touch(std::uint32_t i) {
    Entry& e = m_pool[i];
    ++e.freq;
    e.priority = e.freq + m_age;
    e.stamp = ++m_clock;
    // Priority and stamp only grow, so the entry can only move down.
    sift_down(e.heap_pos);
}

void LfudaPolicy::on_insert(Key key, std::uint64_t bytes) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) {
        m_pool.resize_entry(i, bytes);
        touch(i);
        return;
    }
    i = m_pool.add(key, bytes);
    m_newest = key;
    Entry& e = m_pool[i];
    e.freq = 1;
    e.priority = 1 + m_age;
    e.stamp = ++m_clock;
    m_heap.push_back(i);
    e.heap_pos = static_cast<std::uint32_t>(m_heap.size() - 1);
    sift_up(e.heap_pos);
}

void LfudaPolicy::on_hit(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i != k_nil) touch(i);
}

void LfudaPolicy::on_remove(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    heap_erase(i);
    m_pool.erase(i);
}

void LfudaPolicy::on_evict(Key key) {
    std::uint32_t i = m_pool.find(key);
    if (i == k_nil) return;
    m_age = std::max(m_age, m_pool[i].priority);
    heap_erase(i);
    m_pool.erase(i);
    // The object inserted last was spared by next_victim() as if eviction had preceded its
    // insertion; give it the priority it would have had then.
    if (m_newest && *m_newest != key) {
        std::uint32_t n = m_pool.find(*m_newest);
        if (n != k_nil && m_pool[n].priority < m_pool[n].freq + m_age) {
            m_pool[n].priority = m_pool[n].freq + m_age;
            sift_down(m_pool[n].heap_pos);
        }
    }
}

std::uint64_t LfudaPolicy::priority(Key key) const {
    std::uint32_t i = m_pool.find(key);
    return i == k_nil ? 0 : m_pool[i].priority;
}

std::optional<Key> LfudaPolicy::find_victim(const Evictable& evictable) {
    if (m_heap.empty()) return std::nullopt;
    if (!evictable || evictable(m_pool[m_heap[0]].key)) return m_pool[m_heap[0]].key;
    // Best-first walk of the heap, so skipped keys keep their priority and place. The
    // frontier is a min-heap of heap positions, kept in a member to avoid allocating.
    auto greater = [this](std::size_t a, std::size_t b) { return less(m_heap[b], m_heap[a]); };
    m_frontier.clear();
    auto push_children = [&](std::size_t pos) {
        for (std::size_t child = 2 * pos + 1; child <= 2 * pos + 2; ++child) {
            if (child >= m_heap.size()) break;
            m_frontier.push_back(child);
            std::push_heap(m_frontier.begin(), m_frontier.end(), greater);
        }
    };
    push_children(0);
    while (!m_frontier.empty()) {
        std::pop_heap(m_frontier.begin(), m_frontier.end(), greater);
        std::size_t pos = m_frontier.back();
        m_frontier.pop_back();
        Key key = m_pool[m_heap[pos]].key;
        if (evictable(key)) return key;
        push_children(pos);
    }
    return std::nullopt;
}

}  // namespace eviction
