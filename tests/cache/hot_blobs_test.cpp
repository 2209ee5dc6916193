// The hot tier: sealed copies of small blobs in memory, within byte and file limits, dropped
// when the store removes the blob.

#include "cache/hot_blobs.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cache/cache.hpp"
#include "store/errors.hpp"
#include "store/sha256.hpp"
#include "tests/store/store_test_util.hpp"

using namespace store::test;

namespace {

constexpr std::uint64_t k_kib = 1024;

// A sealed hot copy of `bytes`.
std::shared_ptr<const cache::HotBlob> hot_copy(const std::string& bytes) {
    auto blob = cache::HotBlob::create(bytes.size(), "application/octet-stream");
    REQUIRE(blob.has_value());
    REQUIRE((*blob)->append(bytes).has_value());
    REQUIRE((*blob)->seal(store::Sha256::of(bytes)).has_value());
    return std::shared_ptr<const cache::HotBlob>(std::move(*blob));
}

std::string file_bytes(int fd, std::size_t size) {
    std::string out(size, '\0');
    REQUIRE(::pread(fd, out.data(), size, 0) == static_cast<ssize_t>(size));
    return out;
}

// A cache of 64 MiB whose hot tier holds 1 MiB in blobs of at most `max_blob` bytes.
cache::Cache::Options hot_cache_options(std::uint64_t max_blob) {
    cache::Cache::Options options;
    options.evictor.limits.max_size = 64ull << 20;
    options.evictor.log = [](std::string_view) {};
    options.hot = {1 << 20, max_blob, 16};
    return options;
}

cache::HotBlobs::Options tier(std::uint64_t max_bytes, std::size_t max_files = 4096) {
    return {max_bytes, 64 * k_kib, max_files};
}

}  // namespace

TEST_CASE("a hot blob in a memfd holds its bytes and takes no write, shrink or growth", "[hot]") {
    const std::string bytes = random_bytes(40 * k_kib, 1);
    const auto blob = hot_copy(bytes);
    REQUIRE(blob->holds_file());
    CHECK(blob->size() == bytes.size());
    CHECK(file_bytes(blob->fd(), bytes.size()) == bytes);
    // The seals are what make sendfile safe: pages a socket still holds never change.
    CHECK(::pwrite(blob->fd(), "x", 1, 0) == -1);
    CHECK(errno == EPERM);
    CHECK(::ftruncate(blob->fd(), 10) == -1);
    CHECK(::ftruncate(blob->fd(), 2 * bytes.size()) == -1);
    CHECK(::fcntl(blob->fd(), F_ADD_SEALS, 0) == -1);  // F_SEAL_SEAL: the seals stay
    CHECK(file_bytes(blob->fd(), bytes.size()) == bytes);
}

TEST_CASE("a hot blob under 16 KiB is kept inline, without a file", "[hot]") {
    const std::string bytes = random_bytes(1000, 2);
    const auto blob = hot_copy(bytes);
    CHECK_FALSE(blob->holds_file());
    CHECK(blob->fd() == -1);
    CHECK(blob->inline_bytes() == bytes);
}

TEST_CASE("a hot copy whose bytes do not hash to its digest, or fall short, is refused", "[hot]") {
    const std::string bytes = random_bytes(20 * k_kib, 3);
    auto wrong = cache::HotBlob::create(bytes.size(), "");
    REQUIRE(wrong.has_value());
    REQUIRE((*wrong)->append(bytes).has_value());
    CHECK((*wrong)->seal(store::Sha256::of("other")).error() == store::errc::digest_mismatch);

    auto short_copy = cache::HotBlob::create(bytes.size(), "");
    REQUIRE(short_copy.has_value());
    REQUIRE((*short_copy)->append({bytes.data(), 100}).has_value());
    CHECK_FALSE((*short_copy)->seal(store::Sha256::of(bytes)).has_value());

    auto long_copy = cache::HotBlob::create(10, "");
    REQUIRE(long_copy.has_value());
    CHECK_FALSE((*long_copy)->append(bytes).has_value());
}

TEST_CASE("the hot tier claims a blob once, and only one that fits", "[hot]") {
    cache::HotBlobs hot(tier(256 * k_kib));
    const std::string bytes = random_bytes(20 * k_kib, 4);
    const auto d = store::Sha256::of(bytes);
    CHECK_FALSE(hot.claim(d, 65 * k_kib));  // over max_blob_bytes
    CHECK(hot.claim(d, 20 * k_kib));
    CHECK_FALSE(hot.claim(d, 20 * k_kib));  // a copy is under way
    CHECK(hot.insert(d, hot_copy(bytes)));
    CHECK_FALSE(hot.claim(d, 20 * k_kib));  // held
    const auto found = hot.find(d);
    REQUIRE(found);
    CHECK(file_bytes(found->fd(), bytes.size()) == bytes);
    const auto stats = hot.stats();
    CHECK(stats.blobs == 1);
    CHECK(stats.bytes == bytes.size());
    CHECK(stats.files == 1);
    CHECK(stats.fills == 1);
    CHECK(stats.hits == 1);

    // A copy sealed for another digest is not taken.
    const std::string other = random_bytes(20 * k_kib, 44);
    const auto o = store::Sha256::of(other);
    REQUIRE(hot.claim(o, other.size()));
    CHECK_FALSE(hot.insert(o, hot_copy(bytes)));
    CHECK_FALSE(hot.find(o));

    // Without room for a file, only blobs kept inline are claimed.
    cache::HotBlobs no_files(tier(256 * k_kib, 0));
    CHECK_FALSE(no_files.claim(o, 20 * k_kib));
    CHECK(no_files.claim(o, 1000));

    cache::HotBlobs off(tier(0));
    CHECK_FALSE(off.enabled());
    CHECK_FALSE(off.claim(d, 10));
    CHECK_FALSE(off.find(d));
}

TEST_CASE("a blob erased while it is copied in never enters the hot tier", "[hot]") {
    cache::HotBlobs hot(tier(256 * k_kib));
    const std::string bytes = random_bytes(30 * k_kib, 5);
    const auto d = store::Sha256::of(bytes);
    REQUIRE(hot.claim(d, bytes.size()));
    hot.erase(d);  // the store removed it meanwhile
    hot.insert(d, hot_copy(bytes));
    CHECK_FALSE(hot.find(d));
    CHECK(hot.stats().blobs == 0);
    // And a later claim may copy it again.
    CHECK(hot.claim(d, bytes.size()));
}

TEST_CASE("the hot tier stays within its bytes and its open files", "[hot]") {
    SECTION("bytes") {
        cache::HotBlobs hot(tier(100 * k_kib));
        for (int i = 0; i < 10; ++i) {
            const std::string bytes = random_bytes(30 * k_kib, 10 + i);
            const auto d = store::Sha256::of(bytes);
            REQUIRE(hot.claim(d, bytes.size()));
            hot.insert(d, hot_copy(bytes));
            CHECK(hot.stats().bytes <= 100 * k_kib);
        }
        CHECK(hot.stats().blobs == 3);
        CHECK(hot.stats().evictions == 7);
    }
    SECTION("files, while inline blobs stay") {
        cache::HotBlobs hot(tier(1024 * k_kib, 2));
        const std::string small = random_bytes(1000, 30);
        const auto small_digest = store::Sha256::of(small);
        REQUIRE(hot.claim(small_digest, small.size()));
        hot.insert(small_digest, hot_copy(small));
        for (int i = 0; i < 5; ++i) {
            const std::string bytes = random_bytes(20 * k_kib, 40 + i);
            const auto d = store::Sha256::of(bytes);
            REQUIRE(hot.claim(d, bytes.size()));
            hot.insert(d, hot_copy(bytes));
            CHECK(hot.stats().files <= 2);
        }
        CHECK(hot.find(small_digest));
    }
}

TEST_CASE("a hot blob stays valid for its holder after the tier drops it", "[hot]") {
    cache::HotBlobs hot(tier(256 * k_kib));
    const std::string bytes = random_bytes(50 * k_kib, 6);
    const auto d = store::Sha256::of(bytes);
    REQUIRE(hot.claim(d, bytes.size()));
    hot.insert(d, hot_copy(bytes));
    const auto held = hot.find(d);  // a response being sent
    hot.erase(d);
    CHECK_FALSE(hot.find(d));
    REQUIRE(held);
    CHECK(file_bytes(held->fd(), bytes.size()) == bytes);
}

TEST_CASE("a stored blob offered to the hot tier is copied in, and leaves when it is evicted",
          "[hot][cache]") {
    TempDir dir;
    auto options = hot_cache_options(256 * k_kib);
    options.evictor.limits.policy = "lru";
    cache::Cache c(open_store(options_for(dir)), options);
    REQUIRE(c.start().has_value());
    const std::string bytes = random_bytes(100 * k_kib, 7);
    const auto d = put_blob(c.store(), bytes);
    c.evictor().on_inserted(d, bytes.size());
    const auto info = c.stat(d);
    REQUIRE(info.has_value());
    REQUIRE(info->has_value());

    auto copied = c.offer_hot(d, **info);
    REQUIRE(copied.valid());
    REQUIRE(copied.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(copied.get());
    const auto hot = c.find_hot(d);
    REQUIRE(hot);
    CHECK(file_bytes(hot->fd(), bytes.size()) == bytes);
    CHECK_FALSE(c.offer_hot(d, **info).valid());  // held: nothing to do

    std::uint64_t removed = 0;
    REQUIRE(c.evictor().evict_digest(d, false, &removed) ==
            cache::Evictor::DigestEviction::removed);
    CHECK_FALSE(c.find_hot(d));
    CHECK(c.hot_stats().blobs == 0);
}

TEST_CASE("a hot blob leaves the hot tier when the store removes it as corrupt", "[hot][cache]") {
    TempDir dir;
    auto options = hot_cache_options(256 * k_kib);
    cache::Cache c(open_store(options_for(dir)), options);
    REQUIRE(c.start().has_value());
    const std::string bytes = random_bytes(100 * k_kib, 10);
    const auto d = put_blob(c.store(), bytes);
    c.evictor().on_inserted(d, bytes.size());
    auto copied = c.offer_hot(d, **c.stat(d));
    REQUIRE(copied.valid());
    REQUIRE(copied.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    REQUIRE(copied.get());
    REQUIRE(c.find_hot(d));
    REQUIRE(c.hot_stats().blobs == 1);
    REQUIRE(c.evictor().stats().tracked_blobs == 1);

    // The stored chunk goes bad on disk under the open store (random bytes are stored raw, so
    // they can be found in the file); the hot copy, taken before, is still whole.
    REQUIRE(c.flush().has_value());
    {
        std::fstream file(dir.path() / "store" / "data.mdb",
                          std::ios::in | std::ios::out | std::ios::binary);
        REQUIRE(file);
        const std::string contents{std::istreambuf_iterator<char>(file), {}};
        const auto at = contents.find(bytes.substr(0, 64));
        REQUIRE(at != std::string::npos);
        file.clear();
        file.seekp(static_cast<std::streamoff>(at + 1000));
        file.put(static_cast<char>(contents[at + 1000] ^ 0x5a));
        file.flush();
        REQUIRE(file);
    }
    store::ChunkBuffer out;
    CHECK(c.read_chunk(d, 0, out).error() == store::errc::corrupt);
    REQUIRE(c.flush().has_value());
    CHECK_FALSE(c.stat(d)->has_value());
    CHECK_FALSE(c.find_hot(d));
    CHECK(c.hot_stats().blobs == 0);
    CHECK(c.evictor().stats().tracked_blobs == 0);
}

TEST_CASE("a blob too large for the hot tier, or with it off, is not copied", "[hot][cache]") {
    TempDir dir;
    auto options = hot_cache_options(64 * k_kib);
    cache::Cache c(open_store(options_for(dir)), options);
    REQUIRE(c.start().has_value());
    const std::string bytes = random_bytes(100 * k_kib, 8);
    const auto d = put_blob(c.store(), bytes);
    CHECK_FALSE(c.offer_hot(d, **c.stat(d)).valid());
    CHECK_FALSE(c.find_hot(d));

    TempDir off_dir;
    options.hot = {0, 64 * k_kib, 16};
    cache::Cache off(open_store(options_for(off_dir)), options);
    REQUIRE(off.start().has_value());
    const std::string small = random_bytes(10 * k_kib, 9);
    const auto s = put_blob(off.store(), small);
    CHECK_FALSE(off.offer_hot(s, **off.stat(s)).valid());
    CHECK_FALSE(off.find_hot(s));
}
