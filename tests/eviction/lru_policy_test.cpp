#include "eviction/lru_policy.hpp"

#include <catch2/catch.hpp>

#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

TEST_CASE("lru evicts the least recently used object", "[eviction][lru]") {
    eviction::LruPolicy lru(3);
    Driver d{lru, {}};
    d.get(1);
    d.get(2);
    d.get(3);
    d.get(1);  // order, newest first: 1 3 2
    d.get(4);  // evicts 2
    d.get(3);  // order: 3 4 1
    d.get(5);  // evicts 1
    CHECK(d.victims == std::vector<Key>{2, 1});
    CHECK(lru.size() == 3);
    CHECK(lru.contains(3));
    CHECK(lru.contains(4));
    CHECK(lru.contains(5));
}

TEST_CASE("lru counts bytes, not objects", "[eviction][lru]") {
    eviction::LruPolicy lru(100);
    Driver d{lru, {}};
    d.get(1, 40);
    d.get(2, 40);
    d.get(3, 10);
    CHECK(d.victims.empty());
    d.get(4, 60);  // 150 bytes: 1 then 2 must go
    CHECK(d.victims == std::vector<Key>{1, 2});
    CHECK(lru.bytes() == 70);
}
