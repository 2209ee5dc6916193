#include <future>
#include <mutex>

#include <catch2/catch.hpp>

#include "tests/cache/evictor_test_util.hpp"

using namespace cache;
using namespace cache::test;

namespace {

constexpr std::uint64_t k_blob = 1'000'000;  // one chunk

Limits small_limits(std::string policy = "lru") {
    Limits l;
    l.max_size = 16 * k_mib;
    l.high_watermark = 0.9;
    l.low_watermark = 0.5;
    l.policy = std::move(policy);
    return l;
}

}  // namespace

TEST_CASE("usage above the high watermark is brought below the low watermark", "[evictor]") {
    for (const char* policy : {"lru", "lfu", "s3fifo", "sieve", "wtinylfu"}) {
        DYNAMIC_SECTION(policy) {
            EvictorFixture f(small_limits(policy));
            std::vector<store::Digest> blobs;
            while (f.used() <= f.evictor().limits().high_bytes())
                blobs.push_back(f.put(k_blob));

            auto result = f.evictor().maybe_evict();

            CHECK(result.reached_target);
            CHECK(f.used() < f.evictor().limits().low_bytes());
            CHECK(f.used() == result.used_after);
            CHECK_FALSE(result.removed.empty());
            std::size_t kept = 0;
            for (const auto& d : blobs)
                kept += f.has(d) ? 1 : 0;
            CHECK(kept == blobs.size() - result.removed.size());
            CHECK(kept > 0);
            CHECK(f.evictor().stats().evictions.at("watermark") == result.removed.size());
        }
    }
}

TEST_CASE("below the high watermark nothing is removed", "[evictor]") {
    EvictorFixture f(small_limits());
    std::vector<store::Digest> blobs;
    for (int i = 0; i < 10; ++i)
        blobs.push_back(f.put(k_blob));
    REQUIRE(f.used() > f.evictor().limits().low_bytes());
    REQUIRE(f.used() <= f.evictor().limits().high_bytes());

    auto result = f.evictor().maybe_evict();

    CHECK(result.removed.empty());
    for (const auto& d : blobs)
        CHECK(f.has(d));
}

TEST_CASE("under lru the blobs read most recently survive eviction", "[evictor]") {
    EvictorFixture f(small_limits("lru"));
    std::vector<store::Digest> blobs;
    while (f.used() <= f.evictor().limits().high_bytes()) {
        blobs.push_back(f.put(k_blob));
        f.clock.now += 1;
    }
    // The three oldest are read again: they become the most recent.
    for (int i = 0; i < 3; ++i) {
        f.clock.now += 1;
        f.evictor().on_hit(blobs[i]);
    }

    auto result = f.evictor().maybe_evict();

    REQUIRE_FALSE(result.removed.empty());
    for (int i = 0; i < 3; ++i)
        CHECK(f.has(blobs[i]));
    CHECK_FALSE(f.has(blobs[3]));
    CHECK(result.removed.front().digest == blobs[3]);
}

TEST_CASE("rebuild at start-up tracks every stored blob and can evict them", "[evictor]") {
    EvictorFixture f(small_limits());
    std::vector<store::Digest> blobs;
    while (f.used() <= f.evictor().limits().high_bytes())
        blobs.push_back(f.put_raw(k_blob));
    REQUIRE(f.evictor().stats().tracked_blobs == 0);

    REQUIRE(ok(f.evictor().rebuild()));

    CHECK(f.evictor().stats().tracked_blobs == blobs.size());
    auto result = f.evictor().maybe_evict();
    CHECK(result.reached_target);
    CHECK(f.used() < f.evictor().limits().low_bytes());
}

TEST_CASE("the background thread evicts after an insert crosses the high watermark", "[evictor]") {
    EvictorFixture f(small_limits());
    std::vector<store::Digest> blobs;
    while (f.used() <= f.evictor().limits().high_bytes())
        blobs.push_back(f.put_raw(k_blob));
    REQUIRE(ok(f.evictor().rebuild()));
    std::promise<void> evicted;
    std::once_flag once;
    f.set_on_log([&](std::string_view line) {
        if (line.starts_with("watermark:")) std::call_once(once, [&] { evicted.set_value(); });
    });
    f.evictor().start();

    f.evictor().on_inserted(blobs.back(), k_blob);  // wakes the thread

    REQUIRE(evicted.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    f.evictor().stop();
    CHECK(f.used() < f.evictor().limits().low_bytes());
}
