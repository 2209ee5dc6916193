// The digest-keyed policy: a blob evicted and inserted again keeps its key, so S3-FIFO's ghost
// recognises it; digests whose first bytes collide still get keys of their own.

#include "cache/victim_policy.hpp"

#include <memory>

#include <catch2/catch.hpp>

#include "eviction/s3fifo_policy.hpp"
#include "store/sha256.hpp"

namespace {

store::Digest digest(int n) {
    return store::Sha256::of("blob " + std::to_string(n));
}

}  // namespace

TEST_CASE("a blob evicted and inserted again is recognised by S3-FIFO's ghost", "[policy]") {
    auto owned = std::make_unique<eviction::S3FifoPolicy>(1000);
    const eviction::S3FifoPolicy& s3fifo = *owned;
    cache::VictimPolicy policy(std::move(owned));
    const auto a = digest(1);
    policy.on_insert(a, 100);
    policy.on_insert(digest(2), 100);
    const auto victim = policy.next_victim({});
    REQUIRE(victim == a);  // the oldest in the small FIFO
    policy.on_evict(a);    // left the small FIFO unread: its key goes to the ghost
    const auto key = cache::VictimPolicy::natural_key(a);
    CHECK(s3fifo.in_ghost(key));

    policy.on_insert(a, 100);  // back: the ghost sends it to the main FIFO
    CHECK(s3fifo.in_main(key));
    CHECK_FALSE(s3fifo.in_small(key));
}

TEST_CASE("digests whose first eight bytes are the same get keys of their own", "[policy]") {
    cache::VictimPolicy policy(std::make_unique<eviction::S3FifoPolicy>(1000));
    store::Digest one = digest(1);
    store::Digest two = one;
    two.bytes[31] ^= 1;  // same natural key, another digest
    policy.on_insert(one, 100);
    policy.on_insert(two, 100);
    CHECK(policy.size() == 2);
    policy.on_remove(one);
    CHECK(policy.size() == 1);
    const auto victim = policy.next_victim({});
    CHECK(victim == two);
}
