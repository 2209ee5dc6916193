#include "eviction/frequency_sketch.hpp"

#include <catch2/catch.hpp>

TEST_CASE("the frequency sketch counts accesses behind a doorkeeper and saturates at 15",
          "[eviction][sketch]") {
    eviction::FrequencySketch sketch(1024);
    CHECK(sketch.frequency(7) == 0);
    sketch.increment(7);
    CHECK(sketch.frequency(7) == 1);  // the doorkeeper alone
    for (int i = 0; i < 4; ++i)
        sketch.increment(7);
    CHECK(sketch.frequency(7) == 5);
    for (int i = 0; i < 40; ++i)
        sketch.increment(7);
    CHECK(sketch.frequency(7) == 16);
    CHECK(sketch.frequency(8) <= 1);
}

TEST_CASE("the frequency sketch halves its counters after its sample period",
          "[eviction][sketch]") {
    eviction::FrequencySketch sketch(64);
    for (int i = 0; i < 9; ++i)
        sketch.increment(1);
    REQUIRE(sketch.frequency(1) == 9);
    const std::size_t period = sketch.sample_period();
    CHECK(period == 10 * sketch.width());
    // Other keys fill the period; key 1's count of 8 is halved and its doorkeeper bit cleared.
    for (std::size_t k = 0; sketch.samples() + 1 < period; ++k)
        sketch.increment(1000 + k % 10);
    CHECK(sketch.frequency(1) >= 9);
    sketch.increment(2000);
    CHECK(sketch.frequency(1) <= 5);
    CHECK(sketch.frequency(1) >= 4);
    CHECK(sketch.samples() < period);
}
