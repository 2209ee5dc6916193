#include "eviction/s3fifo_policy.hpp"

#include <catch2/catch.hpp>

#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

TEST_CASE("s3fifo filters one-hit wonders through the small queue and the ghost",
          "[eviction][s3fifo]") {
    // 10 unit objects: the small queue's share is 1, the ghost holds up to 9 keys.
    eviction::S3FifoPolicy s3(10);
    Driver d{s3, {}};
    for (Key k = 1; k <= 10; ++k)
        d.get(k);
    CHECK(d.victims.empty());
    CHECK(s3.in_small(1));

    d.get(11);  // small over its share: 1 (never hit) leaves to the ghost
    d.get(12);  // then 2
    CHECK(d.victims == std::vector<Key>{1, 2});
    CHECK(s3.in_ghost(1));
    CHECK(s3.in_ghost(2));
    CHECK_FALSE(s3.contains(1));

    d.get(3);   // hit: 3's frequency becomes 1
    d.get(13);  // 3 moves to main instead of leaving; 4 leaves to the ghost
    CHECK(d.victims == std::vector<Key>{1, 2, 4});
    CHECK(s3.in_main(3));
    CHECK(s3.in_ghost(4));

    d.get(1);  // a ghost hit: 1 is inserted straight into main; 5 leaves the small queue
    CHECK(s3.in_main(1));
    CHECK_FALSE(s3.in_ghost(1));
    CHECK(d.victims == std::vector<Key>{1, 2, 4, 5});

    // A scan of one-time objects only churns the small queue: main objects survive.
    for (Key k = 100; k < 130; ++k)
        d.get(k);
    CHECK(s3.in_main(1));
    CHECK(s3.in_main(3));
    CHECK(s3.ghost_size() <= 9);
}

TEST_CASE("s3fifo main queue reinserts objects with frequency and decrements it",
          "[eviction][s3fifo]") {
    eviction::S3FifoPolicy s3(10);
    Driver d{s3, {}};
    for (Key k = 1; k <= 10; ++k)
        d.get(k);
    for (Key k = 1; k <= 10; ++k)
        d.get(k);  // every object hit once
    d.get(11);     // small over its share: 1..10 all move to main; then main evicts
    // main: 1 (oldest) .. 10, each freq 0 after the move, so 1 goes.
    CHECK(d.victims == std::vector<Key>{1});
    d.get(2);   // 2: freq 1 in main
    d.get(12);  // small: 11 (never hit) leaves first
    CHECK(d.victims == std::vector<Key>{1, 11});
    d.get(12);  // hit: 12's frequency becomes 1
    d.get(13);  // small: 12 moves to main, only the new 13 is left, so main evicts: 2 is
                // reinserted at the head with frequency 0, then 3 (frequency 0) goes
    CHECK(d.victims == std::vector<Key>{1, 11, 3});
    CHECK(s3.in_main(2));
    CHECK(s3.in_main(12));
    CHECK(s3.in_small(13));
}
