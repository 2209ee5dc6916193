#include "eviction/lfuda_policy.hpp"

#include <catch2/catch.hpp>

#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

namespace {
constexpr Key A = 1, B = 2, C = 3, D = 4, E = 5;
}

TEST_CASE("lfu evicts the lowest frequency and ages so a formerly popular object leaves",
          "[eviction][lfu]") {
    eviction::LfudaPolicy lfu(2);
    Driver d{lfu, {}};
    d.get(A);
    for (int i = 0; i < 3; ++i)
        d.get(A);  // A: F=4, K=4
    d.get(B);      // B: K=1
    d.get(C);      // C: K=1; victim B (K=1, the older of the two), L=1; C becomes K=1+L=2
    CHECK(d.victims == std::vector<Key>{B});
    CHECK(lfu.age() == 1);
    CHECK(lfu.priority(C) == 2);
    d.get(C);  // C: F=2, K=2+1=3
    CHECK(lfu.priority(C) == 3);
    d.get(D);  // victim C (3 < A's 4), L=3; D becomes K=1+3=4
    CHECK(d.victims == std::vector<Key>{B, C});
    CHECK(lfu.age() == 3);
    CHECK(lfu.priority(D) == 4);
    // A, hit four times, now ties with D (one access, aged) and, used less recently, goes.
    d.get(E);
    CHECK(d.victims == std::vector<Key>{B, C, A});
    CHECK(lfu.age() == 4);
    CHECK(lfu.contains(D));
    CHECK(lfu.contains(E));
}

TEST_CASE("lfu without aging pressure keeps the frequent object", "[eviction][lfu]") {
    eviction::LfudaPolicy lfu(2);
    Driver d{lfu, {}};
    d.get(A);
    for (int i = 0; i < 10; ++i)
        d.get(A);
    for (Key k = 100; k < 105; ++k)
        d.get(k);
    // Each new object pushes out the previous one-timer; A stays.
    CHECK(d.victims == std::vector<Key>{100, 101, 102, 103});
    CHECK(lfu.contains(A));
}
