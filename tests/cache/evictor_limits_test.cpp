#include <catch2/catch.hpp>

#include "tests/cache/evictor_test_util.hpp"

using namespace cache;
using namespace cache::test;

namespace {

constexpr std::uint64_t k_blob = 1'000'000;

bool logged_containing(EvictorFixture& f, std::string_view text) {
    for (const auto& line : f.logged())
        if (line.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("max_age removes blobs unread for that long and keeps recently read ones", "[evictor]") {
    EvictorFixture f;
    auto limits = f.evictor().limits();
    limits.max_age = std::chrono::seconds(100);
    REQUIRE_FALSE(f.evictor().set_limits(limits));
    const auto old_unread = f.put(k_blob);
    const auto old_read = f.put(k_blob);
    f.clock.now += 50;
    f.evictor().on_hit(old_read);
    const auto young = f.put(k_blob);
    f.clock.now += 60;  // old_unread: 110 s unread; old_read and young: 60 s

    auto result = f.evictor().expire();

    CHECK_FALSE(f.has(old_unread));
    CHECK(f.has(old_read));
    CHECK(f.has(young));
    REQUIRE(result.removed.size() == 1);
    CHECK(f.evictor().stats().evictions.at("max_age") == 1);

    f.clock.now += 41;
    std::ignore = f.evictor().expire();
    CHECK_FALSE(f.has(old_read));
    CHECK_FALSE(f.has(young));
}

TEST_CASE("max_age 0 never expires anything", "[evictor]") {
    EvictorFixture f;
    const auto d = f.put(k_blob);
    f.clock.now += 10LL * 365 * 24 * 3600;
    CHECK(f.evictor().expire().removed.empty());
    CHECK(f.has(d));
}

TEST_CASE("max_age spares pinned and leased blobs", "[evictor]") {
    EvictorFixture f;
    auto limits = f.evictor().limits();
    limits.max_age = std::chrono::seconds(10);
    REQUIRE_FALSE(f.evictor().set_limits(limits));
    const auto pinned = f.put(k_blob);
    const auto leased = f.put(k_blob);
    const auto other = f.put(k_blob);
    REQUIRE(f.evictor().add_pin(pinned.str()) == PinChange::done);
    auto lease = f.evictor().acquire(leased);
    f.clock.now += 11;

    std::ignore = f.evictor().expire();

    CHECK(f.has(pinned));
    CHECK(f.has(leased));
    CHECK_FALSE(f.has(other));
}

TEST_CASE("a live limit change shrinks the store below the new low watermark", "[evictor]") {
    EvictorFixture f;  // 64 MiB, far from full
    std::vector<store::Digest> blobs;
    for (int i = 0; i < 12; ++i)
        blobs.push_back(f.put(k_blob));
    const auto before = f.used();
    REQUIRE(before < f.evictor().limits().high_bytes());

    Limits smaller = f.evictor().limits();
    smaller.max_size = 8 * k_mib;
    smaller.high_watermark = 0.8;
    smaller.low_watermark = 0.6;
    REQUIRE_FALSE(f.evictor().set_limits(smaller));

    CHECK(f.used() < smaller.low_bytes());
    CHECK(f.evictor().limits() == smaller);
    CHECK(f.evictor().stats().evictions.at("limits") > 0);
    std::size_t kept = 0;
    for (const auto& d : blobs)
        kept += f.has(d) ? 1 : 0;
    CHECK(kept > 0);
}

TEST_CASE("switching policy live keeps every blob tracked and evictable", "[evictor]") {
    EvictorFixture f;
    for (int i = 0; i < 10; ++i)
        f.put(k_blob);
    for (const char* policy : {"s3fifo", "sieve", "wtinylfu", "lfu", "lru"}) {
        Limits l = f.evictor().limits();
        l.policy = policy;
        REQUIRE_FALSE(f.evictor().set_limits(l));
        CHECK(f.evictor().stats().tracked_blobs == 10);
        CHECK(f.evictor().limits().policy == policy);
    }
    auto result = f.evictor().evict_to(0, false);
    CHECK(result.removed.size() == 10);
}

TEST_CASE("invalid limits are refused and change nothing", "[evictor]") {
    EvictorFixture f;
    const Limits before = f.evictor().limits();
    Limits l = before;
    l.low_watermark = 0.95;
    l.high_watermark = 0.9;
    CHECK(f.evictor().set_limits(l));
    l = before;
    l.policy = "fifo";
    auto problem = f.evictor().set_limits(l);
    REQUIRE(problem);
    CHECK(problem->find("s3fifo") != std::string::npos);  // lists the known ones
    l = before;
    l.max_size = 0;
    CHECK(f.evictor().set_limits(l));
    l = before;
    l.high_watermark = 1.5;
    CHECK(f.evictor().set_limits(l));
    CHECK(f.evictor().limits() == before);
}

TEST_CASE("limits set live persist across a restart and are reported as overriding the config",
          "[evictor]") {
    EvictorFixture f;
    Limits l = f.evictor().limits();
    l.max_size = 48 * k_mib;
    l.policy = "sieve";
    l.max_age = std::chrono::hours(24);
    REQUIRE_FALSE(f.evictor().set_limits(l));

    f.reopen();

    CHECK(f.evictor().limits() == l);
    CHECK(logged_containing(f, "limits from admin API override the config file: max_size=48 MiB"));
    CHECK(logged_containing(f, "policy=sieve"));

    REQUIRE_FALSE(f.evictor().reset_limits());
    CHECK(f.evictor().limits() == EvictorFixture::default_limits());
    f.reopen();
    CHECK(f.evictor().limits() == EvictorFixture::default_limits());
}

TEST_CASE("a write that cannot fit even after eviction is refused", "[evictor]") {
    EvictorFixture f;  // 64 MiB
    const auto pinned = f.put(k_blob);
    REQUIRE(f.evictor().add_pin(pinned.str()) == PinChange::done);

    CHECK_FALSE(f.evictor().reserve(65 * k_mib));
    CHECK_FALSE(f.evictor().reserve(64 * k_mib));  // the pinned blob stays
    CHECK(f.evictor().stats().reserve_refused == 2);
    CHECK(f.has(pinned));
}

namespace {

// A 16 MiB store holding twelve blobs of about 1 MB, oldest first.
struct TwelveBlobs {
    static Limits sixteen_mib() {
        Limits l = EvictorFixture::default_limits();
        l.max_size = 16 * k_mib;
        return l;
    }
    TwelveBlobs() {
        for (int i = 0; i < 12; ++i)
            blobs.push_back(f.put(k_blob));
    }
    Limits l = sixteen_mib();
    EvictorFixture f{l};
    std::vector<store::Digest> blobs;
};

}  // namespace

TEST_CASE_METHOD(TwelveBlobs, "a reservation evicts to make room and holds it until released",
                 "[evictor]") {
    REQUIRE(f.used() > 8 * k_mib);

    auto big = f.evictor().reserve(8 * k_mib);
    REQUIRE(big);
    CHECK(f.used() + 8 * k_mib <= l.max_size);
    CHECK_FALSE(f.has(blobs[0]));  // the oldest made room
    CHECK(f.evictor().stats().evictions.at("reserve") > 0);

    // While the 8 MiB are held, a second write needs the room the first was promised.
    auto second = f.evictor().reserve(7 * k_mib);
    CHECK(second);
    CHECK(f.used() + 15 * k_mib <= l.max_size);
    auto third = f.evictor().reserve(2 * k_mib);
    CHECK_FALSE(third);

    big = {};
    second = {};
    CHECK(f.evictor().reserve(15 * k_mib));
}

TEST_CASE_METHOD(TwelveBlobs,
                 "try_reserve never evicts, and a reservation shrinks as its write commits",
                 "[evictor]") {
    const std::uint64_t free = l.max_size - f.used();
    REQUIRE(free > 2 * k_mib);

    CHECK_FALSE(f.evictor().try_reserve(free + 1));
    CHECK(f.has(blobs[0]));  // nothing was evicted for it
    CHECK(f.evictor().stats().reserve_refused == 0);

    auto first = f.evictor().try_reserve(free - k_mib);
    REQUIRE(first);
    CHECK_FALSE(f.evictor().try_reserve(2 * k_mib));  // held by the first
    first.shrink_to(free - 3 * k_mib);                // part of it was written meanwhile
    auto second = f.evictor().try_reserve(2 * k_mib);
    CHECK(second);
    first.shrink_to(free);  // growing is not shrinking: no change
    CHECK_FALSE(f.evictor().try_reserve(2 * k_mib));
    first = {};
    CHECK(f.evictor().try_reserve(free - 2 * k_mib));
}
