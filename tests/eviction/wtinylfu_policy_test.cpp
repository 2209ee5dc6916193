#include "eviction/wtinylfu_policy.hpp"

#include <catch2/catch.hpp>

#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

// 1000 bytes with objects of 10 bytes: the window holds one object, the main cache 99.
TEST_CASE(
    "wtinylfu rejects a cold candidate in favour of a frequent one, and admits it once "
    "it is more frequent",
    "[eviction][wtinylfu]") {
    eviction::WTinyLfuPolicy tiny(1000);
    Driver d{tiny, {}};
    for (Key k = 1; k <= 100; ++k)
        d.get(k, 10);
    CHECK(d.victims.empty());
    CHECK(tiny.in_window(100));
    CHECK(tiny.in_probation(1));
    for (int round = 0; round < 2; ++round) {
        for (Key k = 1; k <= 99; ++k)
            d.get(k, 10);  // promoted to protected, some demoted back
    }
    CHECK(tiny.in_protected(99));
    CHECK(tiny.frequency(1) >= 2);
    CHECK(tiny.frequency(100) == 1);

    // 200 enters the window and pushes 100 out as the candidate: the main cache is full and
    // 100 (seen once) is not more frequent than the probation victim, so 100 itself goes.
    d.get(200, 10);
    CHECK(d.victims == std::vector<Key>{100});
    for (Key k = 1; k <= 99; ++k)
        CHECK(tiny.contains(k));

    // 100 comes back and is read often while in the window; when 300 pushes it out it is now
    // the more frequent one: admitted, and a probation object is evicted instead.
    d.get(100, 10);  // the candidate 200 (cold) is rejected
    CHECK(d.victims == std::vector<Key>{100, 200});
    for (int i = 0; i < 4; ++i)
        d.get(100, 10);
    d.get(300, 10);
    REQUIRE(d.victims.size() == 3);
    CHECK(d.victims[2] != 100);
    CHECK(d.victims[2] >= 1);
    CHECK(d.victims[2] <= 99);
    CHECK(tiny.in_probation(100));
    CHECK(tiny.in_window(300));
}

TEST_CASE("wtinylfu may reject the object just inserted, leaving the cache as it was",
          "[eviction][wtinylfu]") {
    eviction::WTinyLfuPolicy tiny(1000);
    Driver d{tiny, {}};
    for (Key k = 1; k <= 99; ++k)
        d.get(k, 10);
    for (int round = 0; round < 2; ++round) {
        for (Key k = 1; k <= 99; ++k)
            d.get(k, 10);
    }
    REQUIRE(d.victims.empty());
    // A large cold object overflows the window at once and is its own admission candidate.
    d.get(500, 500);
    CHECK(d.victims == std::vector<Key>{500});
    CHECK_FALSE(tiny.contains(500));
    CHECK(tiny.size() == 99);
    CHECK(tiny.bytes() == 990);
}
