#include "eviction/belady.hpp"

#include <vector>

#include <catch2/catch.hpp>

using eviction::Request;

TEST_CASE("belady evicts the object used farthest in the future", "[eviction][belady]") {
    // A B C A B D A B with room for two: C and D are never used again and go at once; LRU
    // would hit nothing on this sequence.
    std::vector<Request> requests;
    for (eviction::Key k : {1, 2, 3, 1, 2, 4, 1, 2})
        requests.push_back({k, 1});
    auto stats = eviction::simulate_belady(requests, 2);
    CHECK(stats.requests == 8);
    CHECK(stats.hits == 4);
    CHECK(stats.bytes_hit == 4);
    CHECK(stats.evictions == 2);
}

TEST_CASE("belady with sizes evicts far objects until the new one fits", "[eviction][belady]") {
    // Capacity 9: a(1) b(1) X(8) X a b. When X arrives (10 bytes), b is used last, so b goes;
    // X and a hit; b misses again.
    std::vector<Request> requests{{1, 1}, {2, 1}, {3, 8}, {3, 8}, {1, 1}, {2, 1}};
    auto stats = eviction::simulate_belady(requests, 9);
    CHECK(stats.hits == 2);
    CHECK(stats.bytes_hit == 9);
    CHECK(stats.bytes_requested == 20);

    // An object larger than the cache is always a miss and never displaces anything.
    std::vector<Request> big{{1, 5}, {9, 50}, {9, 50}, {1, 5}};
    auto big_stats = eviction::simulate_belady(big, 10);
    CHECK(big_stats.hits == 1);
    CHECK(big_stats.evictions == 0);
}
