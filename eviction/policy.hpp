#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace eviction {

// Objects are identified by dense-ish integer ids: the proxy maps digests to ids, the bench
// maps trace keys to ids.
using Key = std::uint64_t;

// Tells whether a key may be evicted right now (not pinned, not being read or written).
// An empty function means every key is evictable.
using Evictable = std::function<bool(Key)>;

// A cache replacement policy over byte-sized objects. The policy only keeps order and
// statistics; the caller owns the objects and decides when to evict.
//
// Driving loop (see Simulator): on a hit call on_hit; on a miss call on_insert, then, while
// bytes() > capacity(), call evict() (or next_victim() + remove the object + on_evict()).
// Insertion happens before eviction so that an admission policy (W-TinyLFU) may reject the
// object just inserted: evict() may return that very key.
// A policy is not thread-safe: the caller serialises every call. A hit allocates nothing; an
// insertion allocates at most hash-table nodes.
class Policy {
  public:
    virtual ~Policy() = default;
    Policy() = default;
    Policy(const Policy&) = delete;
    Policy& operator=(const Policy&) = delete;

    // The name accepted by make_policy().
    virtual std::string_view name() const = 0;

    // Changes the byte capacity live. The policy resizes its segments; it does not evict by
    // itself: the caller evicts until bytes() <= capacity().
    virtual void set_capacity(std::uint64_t bytes) = 0;
    virtual std::uint64_t capacity() const = 0;

    // A new object entered the cache. Inserting a key that is already tracked updates its size
    // and counts as a hit.
    virtual void on_insert(Key key, std::uint64_t bytes) = 0;
    // A tracked object was read. Unknown keys are ignored.
    virtual void on_hit(Key key) = 0;
    // The caller removed an object for its own reasons (admin, max_age, corruption). The
    // policy forgets it without treating it as an eviction. Unknown keys are ignored.
    virtual void on_remove(Key key) = 0;
    // The caller removed an object the policy chose (a key returned by next_victim()); the
    // policy forgets it and records the eviction (ghost entry, aging). Unknown keys are ignored.
    virtual void on_evict(Key key) = 0;

    // Returns the key the policy evicts next among the keys `evictable` accepts, or nullopt
    // when no tracked key is evictable. The key stays tracked until on_evict()/on_remove();
    // asking again without removing it returns the same key. The policy may reorganise its
    // internal order while searching (promotions, hand movement), as its eviction step does.
    // Keys refused by `evictable` keep their place in the policy's order or are treated as
    // recently used; they are never forgotten.
    virtual std::optional<Key> next_victim(const Evictable& evictable) = 0;
    std::optional<Key> next_victim() { return next_victim(Evictable{}); }

    // next_victim() followed by on_evict(): returns the key the caller must now remove.
    std::optional<Key> evict(const Evictable& evictable = {});

    virtual bool contains(Key key) const = 0;
    // Sum of the sizes of tracked objects.
    virtual std::uint64_t bytes() const = 0;
    // Number of tracked objects.
    virtual std::size_t size() const = 0;
};

// Runs `find` (a victim search) so that it first spares `newest`, the key inserted last:
// policies without admission then behave as if they made room before inserting, as their
// papers and other simulators do, although the caller inserts first. The newest key is
// chosen only when nothing else is evictable.
template <class Find>
std::optional<Key> spare_newest(const std::optional<Key>& newest, std::size_t size,
                                const Evictable& evictable, Find&& find) {
    if (newest && size > 1) {
        const Key spared = *newest;
        auto victim = find(Evictable([&evictable, spared](Key key) {
            return key != spared && (!evictable || evictable(key));
        }));
        if (victim) return victim;
    }
    return find(evictable);
}

// Creates a policy by name: lru, lfu, s3fifo, sieve or wtinylfu. Unknown names give nullptr.
std::unique_ptr<Policy> make_policy(std::string_view name, std::uint64_t capacity_bytes);

// The names make_policy() accepts, in a stable order.
inline constexpr std::string_view k_policy_names[] = {"lru", "lfu", "s3fifo", "sieve", "wtinylfu"};

}  // namespace eviction
