#include "cache/cache.hpp"

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "store/errors.hpp"
#include "store/thread_priority.hpp"
#include "tests/store/store_test_util.hpp"

using namespace store::test;

namespace {

namespace net = boost::asio;

cache::Cache::Options options_with(std::uint64_t max_size, double low_watermark = 0.5) {
    cache::Cache::Options o;
    o.evictor.limits.max_size = max_size;
    o.evictor.limits.high_watermark = 0.9;
    o.evictor.limits.low_watermark = low_watermark;
    o.evictor.limits.policy = "lru";
    o.evictor.log = [](std::string_view) {};
    return o;
}

// Runs one coroutine to its end on a loop of its own and returns its value.
template <class T>
T run(net::awaitable<T> task) {
    net::io_context ioc;
    std::promise<T> promise;
    net::co_spawn(ioc, std::move(task), [&promise](std::exception_ptr e, T value) {
        if (e) {
            promise.set_exception(e);
        } else {
            promise.set_value(std::move(value));
        }
    });
    ioc.run();
    return promise.get_future().get();
}

// Writes a blob through the cache's awaitable path: begin, append in pieces, commit.
net::awaitable<cache::result<void>> write_blob(cache::Cache& c, store::Digest digest,
                                               std::string bytes) {
    auto beginning = c.begin(digest, "application/octet-stream");
    auto begun = co_await std::move(beginning);
    if (!begun) co_return begun.error();
    auto& writer = **begun;
    for (std::size_t at = 0; at < bytes.size(); at += 300'000) {
        const std::span<const char> piece(bytes.data() + at,
                                          std::min<std::size_t>(300'000, bytes.size() - at));
        auto appending = writer.append(piece);
        if (auto appended = co_await std::move(appending); !appended) co_return appended;
    }
    auto committing = writer.commit();
    co_return co_await std::move(committing);
}

}  // namespace

namespace {

// How many of this process's threads have the nice value `nice` (/proc/self/task/*/stat).
int threads_at_nice(int nice) {
    int count = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        // Fields after the command name, which is in parentheses and may hold spaces: state is
        // field 3 and nice field 19.
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        for (int i = 3; i <= 19 && fields >> field; ++i) {
            if (i == 19 && std::stoi(field) == nice) ++count;
        }
    }
    return count;
}

}  // namespace

TEST_CASE("the blob threads run blob_nice below the thread that made the cache, and still work",
          "[cache]") {
    TempDir dir;
    const int base = store::this_thread_nice();
    if (base > 12) {
        WARN("the test runs at nice " << base << ": too high to see a thread lowered by 7");
        return;
    }
    const int lowered = base + 7;
    const int before = threads_at_nice(lowered);
    auto options = options_with(64ull << 20);
    options.blob_threads = 3;
    options.blob_nice = 7;
    cache::Cache c(open_store(options_for(dir)), options);
    REQUIRE(c.start());
    CHECK(threads_at_nice(lowered) == before + 3);
    CHECK(store::this_thread_nice() == base);
    const std::string data = random_bytes(2'500'000, 9);
    const auto d = digest_of(data);
    REQUIRE(run(write_blob(c, d, data)));
    CHECK(c.stat(d)->has_value());
}

TEST_CASE("a blob written through the cache is stored, tracked by the policy and hit", "[cache]") {
    TempDir dir;
    cache::Cache c(open_store(options_for(dir)), options_with(64ull << 20));
    REQUIRE(c.start());
    const std::string data = random_bytes(3'000'000, 7);
    const auto d = digest_of(data);
    REQUIRE(run(write_blob(c, d, data)));
    auto info = c.stat(d);
    REQUIRE(info.has_value());
    REQUIRE(info->has_value());
    CHECK((*info)->size == data.size());
    CHECK(c.evictor().stats().tracked_blobs == 1);

    // A blob whose bytes do not match its digest is never stored or tracked.
    const auto other = digest_of("something else");
    CHECK(run(write_blob(c, other, data)).error() == store::errc::digest_mismatch);
    CHECK_FALSE(c.stat(other)->has_value());
    CHECK(c.evictor().stats().tracked_blobs == 1);
}

TEST_CASE("a blob the store removes as corrupt leaves the policy and is not counted as evicted",
          "[cache]") {
    TempDir dir;
    const auto options = options_for(dir);
    const std::string data = random_bytes(3 * store::k_chunk_size, 24);
    const std::string kept = random_bytes(2 * store::k_chunk_size, 25);
    const auto d = digest_of(data);
    const auto k = digest_of(kept);
    {
        auto s = open_store(options);
        put_blob(*s, data);
        put_blob(*s, kept);
    }
    {
        RawEnv raw(options.path);
        raw.flip_chunk_byte(d, 1, 777);
    }
    cache::Cache c(open_store(options), options_with(64ull << 20));
    REQUIRE(c.start());
    REQUIRE(c.evictor().stats().tracked_blobs == 2);

    store::ChunkBuffer out;
    CHECK(c.read_chunk(d, 1, out).error() == store::errc::corrupt);
    REQUIRE(c.flush());
    CHECK_FALSE(c.stat(d)->has_value());
    CHECK(c.evictor().stats().tracked_blobs == 1);

    // Evicting everything now removes only the blob still there.
    const auto evicted = c.evictor().evict_to(0, false);
    REQUIRE(evicted.removed.size() == 1);
    CHECK(evicted.removed[0].digest == k);
    const auto stats = c.evictor().stats();
    CHECK(stats.evicted_bytes.at("admin") == kept.size());
    CHECK(stats.evictions.at("admin") == 1);
}

TEST_CASE("hits recorded through the cache reach the policy", "[cache]") {
    TempDir dir;
    // Three 3.5 MB blobs fit below the high watermark; room for a fourth takes one eviction.
    cache::Cache c(open_store(options_for(dir)), options_with(12ull << 20, 0.8));
    REQUIRE(c.start());
    std::vector<std::string> blobs;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        blobs.push_back(random_bytes(3'500'000, seed));
        REQUIRE(run(write_blob(c, digest_of(blobs.back()), blobs.back())));
    }
    // The oldest is hit, as a manifest served from a copy in front of the store is.
    c.record_hit(digest_of(blobs[0]));
    const auto room = run(c.reserve(3'500'000));
    REQUIRE(room);
    CHECK(c.stat(digest_of(blobs[0]))->has_value());
    CHECK_FALSE(c.stat(digest_of(blobs[1]))->has_value());
    CHECK(c.stat(digest_of(blobs[2]))->has_value());
}

TEST_CASE("a lease taken through the cache keeps its blob from eviction", "[cache]") {
    TempDir dir;
    cache::Cache c(open_store(options_for(dir)), options_with(64ull << 20));
    REQUIRE(c.start());
    const std::string data = random_bytes(1'000'000, 9);
    const auto d = digest_of(data);
    REQUIRE(run(write_blob(c, d, data)));
    {
        auto lease = run(c.lease(d));
        CHECK(c.evictor().evict_to(0, false).removed.empty());
        CHECK(c.stat(d)->has_value());
    }
    CHECK(c.evictor().evict_to(0, false).removed.size() == 1);
}
