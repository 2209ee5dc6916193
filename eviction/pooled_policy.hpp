#pragma once
// What the policies that track their objects in an EntryPool share: the capacity, the pool,
// the size queries, and a next_victim() that first spares the newest key (spare_newest()). Such
// a policy sets m_newest on insert and implements find_victim().

#include <cstdint>
#include <optional>

#include "eviction/entry_pool.hpp"
#include "eviction/policy.hpp"

namespace eviction {

class PooledPolicy : public Policy {
  public:
    explicit PooledPolicy(std::uint64_t capacity_bytes) : m_capacity(capacity_bytes) {}

    void set_capacity(std::uint64_t bytes) override { m_capacity = bytes; }
    std::uint64_t capacity() const override { return m_capacity; }
    std::optional<Key> next_victim(const Evictable& evictable) final {
        return spare_newest(m_newest, size(), evictable,
                            [this](const Evictable& e) { return find_victim(e); });
    }
    bool contains(Key key) const final { return m_pool.contains(key); }
    std::uint64_t bytes() const final { return m_pool.bytes(); }
    std::size_t size() const final { return m_pool.size(); }

  protected:
    // The policy's own choice among the evictable objects; std::nullopt if there is none.
    virtual std::optional<Key> find_victim(const Evictable& evictable) = 0;

    std::uint64_t m_capacity = 0;
    EntryPool m_pool;
    std::optional<Key> m_newest;  // spared by next_victim()
};

}  // namespace eviction
