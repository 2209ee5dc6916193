#pragma once

#include <cstddef>
#include <cstdint>

#include "eviction/entry_pool.hpp"

namespace eviction {

// An intrusive doubly linked list of pool entries (front = newest, back = oldest) that keeps
// the count and byte total of its members. An entry is in at most one list at a time.
class EntryList {
  public:
    std::uint32_t front() const { return m_front; }
    std::uint32_t back() const { return m_back; }
    std::size_t count() const { return m_count; }
    std::uint64_t bytes() const { return m_bytes; }
    bool empty() const { return m_count == 0; }

    void push_front(EntryPool& pool, std::uint32_t i) {
        Entry& e = pool[i];
        e.prev = k_nil;
        e.next = m_front;
        if (m_front != k_nil) pool[m_front].prev = i;
        m_front = i;
        if (m_back == k_nil) m_back = i;
        ++m_count;
        m_bytes += e.bytes;
    }

    void remove(EntryPool& pool, std::uint32_t i) {
        Entry& e = pool[i];
        if (e.prev != k_nil) {
            pool[e.prev].next = e.next;
        } else {
            m_front = e.next;
        }
        if (e.next != k_nil) {
            pool[e.next].prev = e.prev;
        } else {
            m_back = e.prev;
        }
        e.prev = e.next = k_nil;
        --m_count;
        m_bytes -= e.bytes;
    }

    void move_to_front(EntryPool& pool, std::uint32_t i) {
        if (m_front == i) return;
        remove(pool, i);
        push_front(pool, i);
    }

    // Keeps the byte total right when a member changes size.
    void resize_member(EntryPool& pool, std::uint32_t i, std::uint64_t bytes) {
        m_bytes = m_bytes - pool[i].bytes + bytes;
    }

  private:
    std::uint32_t m_front = k_nil;
    std::uint32_t m_back = k_nil;
    std::size_t m_count = 0;
    std::uint64_t m_bytes = 0;
};

}  // namespace eviction
