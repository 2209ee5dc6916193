#include <catch2/catch.hpp>

#include "tests/cache/evictor_test_util.hpp"

using namespace cache;
using namespace cache::test;

namespace {
constexpr std::uint64_t k_blob = 1'000'000;
}

TEST_CASE("a leased blob is never removed, and becomes evictable when the lease ends",
          "[evictor]") {
    EvictorFixture f;
    std::vector<store::Digest> blobs;
    for (int i = 0; i < 6; ++i)
        blobs.push_back(f.put(k_blob));
    {
        auto lease = f.evictor().acquire(blobs[0]);  // the first victim under lru
        auto copy = f.evictor().acquire(blobs[0]);   // two readers of the same blob
        auto moved = std::move(copy);

        auto result = f.evictor().evict_to(0, false);

        CHECK(f.has(blobs[0]));
        for (int i = 1; i < 6; ++i)
            CHECK_FALSE(f.has(blobs[i]));
        CHECK_FALSE(result.reached_target);
        CHECK(f.evictor().stats().leased_blobs == 1);
        CHECK(f.evictor().evict_digest(blobs[0], false, nullptr) ==
              Evictor::DigestEviction::in_use);
    }
    CHECK(f.evictor().stats().leased_blobs == 0);
    auto result = f.evictor().evict_to(0, false);
    CHECK_FALSE(f.has(blobs[0]));
    CHECK(result.removed.size() == 1);
}

TEST_CASE("blobs leased by readers on other threads survive concurrent eviction", "[evictor]") {
    EvictorFixture f;
    const std::uint64_t seed = 1000;
    std::vector<store::Digest> blobs;  // fixed: blob i is always the same bytes
    for (std::uint64_t i = 0; i < 8; ++i) {
        blobs.push_back(f.put_raw(k_blob, seed + i));
        f.evictor().on_inserted(blobs.back(), k_blob);
    }
    std::atomic<bool> stop{false};
    std::atomic<int> lost{0};
    std::atomic<int> reads{0};
    // A reader takes a lease, then the blob must stay readable for as long as it holds it.
    auto reader = [&](std::size_t first) {
        store::ChunkBuffer chunk;
        while (!stop) {
            for (std::size_t i = first; i < blobs.size(); i += 2) {
                auto lease = f.evictor().acquire(blobs[i]);
                auto info = f.store().stat(blobs[i]);
                if (!info || !*info) continue;  // removed before the lease: a miss, fine
                if (!f.store().read_chunk(blobs[i], 0, chunk)) ++lost;
                ++reads;
            }
        }
    };
    std::thread a(reader, 0);
    std::thread b(reader, 1);
    std::size_t removed = 0;
    for (int round = 0; round < 3; ++round) {
        removed += f.evictor().evict_to(0, false).removed.size();
        for (std::uint64_t i = 0; i < blobs.size(); ++i) {
            if (f.has(blobs[i])) continue;
            CHECK(f.put_raw(k_blob, seed + i) == blobs[i]);
            f.evictor().on_inserted(blobs[i], k_blob);
        }
    }
    stop = true;
    a.join();
    b.join();
    CHECK(lost == 0);
    CHECK(removed > 0);
    CHECK(reads > 0);
}
