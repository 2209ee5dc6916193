#include "eviction/policy.hpp"

#include "eviction/lfuda_policy.hpp"
#include "eviction/lru_policy.hpp"
#include "eviction/s3fifo_policy.hpp"
#include "eviction/sieve_policy.hpp"
#include "eviction/wtinylfu_policy.hpp"

namespace eviction {

std::optional<Key> Policy::evict(const Evictable& evictable) {
    std::optional<Key> victim = next_victim(evictable);
    if (victim) on_evict(*victim);
    return victim;
}

std::unique_ptr<Policy> make_policy(std::string_view name, std::uint64_t capacity_bytes) {
    if (name == "lru") return std::make_unique<LruPolicy>(capacity_bytes);
    if (name == "lfu") return std::make_unique<LfudaPolicy>(capacity_bytes);
    if (name == "s3fifo") return std::make_unique<S3FifoPolicy>(capacity_bytes);
    if (name == "sieve") return std::make_unique<SievePolicy>(capacity_bytes);
    if (name == "wtinylfu") return std::make_unique<WTinyLfuPolicy>(capacity_bytes);
    return nullptr;
}

}  // namespace eviction
