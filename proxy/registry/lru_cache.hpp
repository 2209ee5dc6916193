#pragma once
// A map bounded by the total size of its values, dropping the least recently used entries to make
// room. Not thread-safe: its owner locks.

#include <cstddef>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>

namespace proxy::registry {

template <class K, class V, class Hash = std::hash<K>>
class LruCache {
  public:
    // `size_of(value)`: what a value counts against `max_bytes`.
    LruCache(std::size_t max_bytes, std::function<std::size_t(const V&)> size_of)
        : m_max_bytes(max_bytes), m_size_of(std::move(size_of)) {}

    // The value, now the most recently used; nullptr if absent. Valid until the next put.
    const V* find(const K& key) {
        const auto it = m_entries.find(key);
        if (it == m_entries.end()) return nullptr;
        m_order.splice(m_order.begin(), m_order, it->second.at);
        return &it->second.value;
    }

    // Inserts or replaces, then drops the least recently used entries until within the bound.
    // A value larger than the whole bound is not kept.
    void put(const K& key, V value) {
        const std::size_t bytes = m_size_of(value);
        erase(key);
        if (bytes > m_max_bytes) return;
        while (m_bytes + bytes > m_max_bytes) {
            const K victim = m_order.back();  // a copy: erase destroys the list's element
            erase(victim);
        }
        m_order.push_front(key);
        m_entries.emplace(key, Entry{std::move(value), bytes, m_order.begin()});
        m_bytes += bytes;
    }

    // Drops the entry, if there is one.
    void erase(const K& key) {
        const auto it = m_entries.find(key);
        if (it == m_entries.end()) return;
        m_bytes -= it->second.bytes;
        m_order.erase(it->second.at);
        m_entries.erase(it);
    }

    std::size_t bytes() const { return m_bytes; }
    std::size_t size() const { return m_entries.size(); }

  private:
    using Order = std::list<K>;  // front: most recently used
    struct Entry {
        V value;
        std::size_t bytes;
        typename Order::iterator at;
    };

    std::size_t m_max_bytes;
    std::function<std::size_t(const V&)> m_size_of;
    std::size_t m_bytes = 0;
    Order m_order;
    std::unordered_map<K, Entry, Hash> m_entries;
};

}  // namespace proxy::registry
