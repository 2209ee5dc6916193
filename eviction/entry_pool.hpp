#pragma once

#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

#include "eviction/policy.hpp"

namespace eviction {

inline constexpr std::uint32_t k_nil = std::numeric_limits<std::uint32_t>::max();

// Per-object bookkeeping shared by the policies; each policy uses the fields it needs.
struct Entry {
    Key key = 0;
    std::uint64_t bytes = 0;
    std::uint32_t prev = k_nil;  // towards the front (newest) of its list
    std::uint32_t next = k_nil;  // towards the back (oldest) of its list
    std::uint64_t priority = 0;  // LFUDA priority
    std::uint64_t stamp = 0;     // LFUDA tie-break: time of last access
    std::uint32_t freq = 0;
    std::uint32_t heap_pos = k_nil;
    std::uint8_t queue = 0;
    bool visited = false;
};

// Entries stored in a vector with a free list, indexed by key. Indices stay valid until the
// entry is erased, so lists link entries by index and nothing is allocated per request once
// the pool has grown to the working set.
class EntryPool {
  public:
    EntryPool() { m_index.max_load_factor(0.5f); }

    // Returns the index of key's entry, or k_nil.
    std::uint32_t find(Key key) const {
        auto it = m_index.find(key);
        return it == m_index.end() ? k_nil : it->second;
    }

    // Adds an entry for a key that is not present; returns its index.
    std::uint32_t add(Key key, std::uint64_t bytes) {
        std::uint32_t i;
        if (m_free.empty()) {
            i = static_cast<std::uint32_t>(m_entries.size());
            m_entries.emplace_back();
        } else {
            i = m_free.back();
            m_free.pop_back();
            m_entries[i] = Entry{};
        }
        m_entries[i].key = key;
        m_entries[i].bytes = bytes;
        m_index.emplace(key, i);
        m_bytes += bytes;
        return i;
    }

    void erase(std::uint32_t i) {
        m_index.erase(m_entries[i].key);
        m_bytes -= m_entries[i].bytes;
        m_free.push_back(i);
    }

    void resize_entry(std::uint32_t i, std::uint64_t bytes) {
        m_bytes = m_bytes - m_entries[i].bytes + bytes;
        m_entries[i].bytes = bytes;
    }

    Entry& operator[](std::uint32_t i) { return m_entries[i]; }
    const Entry& operator[](std::uint32_t i) const { return m_entries[i]; }

    bool contains(Key key) const { return m_index.contains(key); }
    std::size_t size() const { return m_index.size(); }
    std::uint64_t bytes() const { return m_bytes; }

  private:
    std::vector<Entry> m_entries;
    std::vector<std::uint32_t> m_free;
    std::unordered_map<Key, std::uint32_t> m_index;
    std::uint64_t m_bytes = 0;
};

}  // namespace eviction
