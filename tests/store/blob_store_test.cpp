#include "store/blob_store.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "store/errors.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;

namespace {

constexpr std::size_t k = k_chunk_size;

std::uint32_t chunks_for(std::uint64_t size) {
    return static_cast<std::uint32_t>((size + k - 1) / k);
}

// Removes a commit gate file (Options::test_commit_gate) at the latest when it goes out of
// scope. Declared after the future of a gated call, so that a failing test opens the gate before
// the future's destructor waits for the call, instead of leaving it to the gate's timeout.
class GateOpener {
  public:
    explicit GateOpener(std::filesystem::path path) : m_path(std::move(path)) {}
    ~GateOpener() { open(); }
    GateOpener(const GateOpener&) = delete;
    GateOpener& operator=(const GateOpener&) = delete;
    void open() {
        std::error_code ec;
        std::filesystem::remove(m_path, ec);
    }

  private:
    std::filesystem::path m_path;
};

}  // namespace

TEST_CASE("blobs of every size around the chunk boundary round-trip byte for byte", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    std::uint64_t seed = 10;
    for (std::size_t size :
         {std::size_t{0}, std::size_t{1}, k - 1, k, k + 1, std::size_t{50} << 20}) {
        for (bool text : {false, true}) {
            if (size == 0 && text) continue;  // the same empty blob twice
            const std::string data = text ? text_bytes(size, ++seed) : random_bytes(size, ++seed);
            CAPTURE(size, text);
            const Digest d = put_blob(*store, data);
            auto info = store->stat(d);
            REQUIRE(info.has_value());
            REQUIRE(info->has_value());
            CHECK((*info)->size == size);
            CHECK((*info)->chunks == chunks_for(size));
            CHECK((*info)->media_type == "application/octet-stream");
            auto back = read_all(*store, d);
            REQUIRE(back.has_value());
            CHECK(back->size() == data.size());
            CHECK(*back == data);
        }
    }
}

TEST_CASE("a blob appended in pieces of every shape round-trips, raw and compressed chunks alike",
          "[store]") {
    // Pieces larger than a chunk, smaller ones, pieces that end on and across chunk boundaries,
    // and a last partial chunk, in one blob.
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = random_bytes(3 * k, 41) + text_bytes(3 * k, 42) + random_bytes(k, 43);
    const Digest d = digest_of(data);
    auto writer = store->begin(d, "application/octet-stream");
    REQUIRE(writer.has_value());
    const std::size_t shapes[] = {k, 1, k - 1, 2 * k + 5, 7, k, 100'000};
    std::size_t at = 0;
    for (std::size_t i = 0; at < data.size(); ++i) {
        const std::size_t n = std::min(shapes[i % std::size(shapes)], data.size() - at);
        REQUIRE((*writer)->append(std::span<const char>(data.data() + at, n)).has_value());
        at += n;
    }
    REQUIRE((*writer)->commit().has_value());
    auto info = store->stat(d);
    REQUIRE(info->has_value());
    CHECK((*info)->chunks == chunks_for(data.size()));
    CHECK((*info)->stored_bytes < data.size() - k);  // the text chunks were compressed
    CHECK(read_all(*store, d) == data);
}

TEST_CASE("read_chunk returns each chunk's bytes and rejects an index past the end", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = random_bytes(2 * k + 7);
    const Digest d = put_blob(*store, data);
    store::ChunkBuffer out;
    for (std::uint32_t i = 0; i < 3; ++i) {
        REQUIRE(store->read_chunk(d, i, out).has_value());
        CHECK(out.view() == data.substr(i * k, k));
    }
    CHECK(out.size() == 7);
    auto past = store->read_chunk(d, 3, out);
    REQUIRE_FALSE(past.has_value());
    CHECK(past.error() == errc::out_of_range);
    auto missing = store->read_chunk(digest_of("nope"), 0, out);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == errc::not_found);
}

TEST_CASE("range reads return exactly the requested bytes across chunk boundaries", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = text_bytes(3 * k + 100);
    const Digest d = put_blob(*store, data);
    const std::uint64_t size = data.size();

    auto range = [&](std::uint64_t offset, std::uint64_t length) {
        std::string out;
        std::size_t calls = 0;
        auto r = store->read_range(d, offset, length, [&](std::span<const char> piece) {
            ++calls;
            CHECK(!piece.empty());
            out.append(piece.data(), piece.size());
            return true;
        });
        REQUIRE(r.has_value());
        CHECK(calls <= chunks_for(length) + 1);
        return out;
    };
    for (auto [offset, length] :
         std::vector<std::pair<std::uint64_t, std::uint64_t>>{{0, size},
                                                              {k - 10, 20},
                                                              {k - 1, 1},
                                                              {k, 1},
                                                              {k - 1, 2},
                                                              {k / 2, 2 * k},
                                                              {1, 3 * k},
                                                              {size - 1, 1},
                                                              {2 * k, k + 100},
                                                              {k + 5, 0},
                                                              {size, 0}}) {
        CAPTURE(offset, length);
        CHECK(range(offset, length) == data.substr(offset, length));
    }
    auto past = store->read_range(d, size, 1, [](std::span<const char>) { return true; });
    REQUIRE_FALSE(past.has_value());
    CHECK(past.error() == errc::out_of_range);
    auto over = store->read_range(d, 10, size, [](std::span<const char>) { return true; });
    REQUIRE_FALSE(over.has_value());
    CHECK(over.error() == errc::out_of_range);

    std::size_t calls = 0;
    REQUIRE(store->read_range(d, 0, size, [&](std::span<const char>) { return ++calls < 2; }));
    CHECK(calls == 2);
}

TEST_CASE("a blob whose digest does not match is never stored", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const Digest claimed = digest_of("something else");
    {
        auto store = open_store(options);
        REQUIRE(store->flush());
        const Usage before = store->usage();
        const std::string data = random_bytes(3 * k + 5);
        auto r = write_blob(*store, claimed, data);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::digest_mismatch);
        auto info = store->stat(claimed);
        REQUIRE(info.has_value());
        CHECK_FALSE(info->has_value());
        REQUIRE(store->flush());
        const Usage after = store->usage();
        CHECK(after.blobs == 0);
        CHECK(after.blob_bytes == 0);
        // Only free-list bookkeeping may remain, never the 3 MiB of chunks.
        CHECK(after.used_bytes <= before.used_bytes + 8 * 4096);
        // The same digest can be written afterwards: nothing is left holding it.
        const std::string right = "something else";
        CHECK(write_blob(*store, claimed, right).has_value());
        CHECK(store->remove(claimed).has_value());
    }
    RawEnv raw(options.path);
    CHECK(raw.entries("chunks") == 0);
    CHECK(raw.entries("blobs") == 0);
}

TEST_CASE("a writer dropped without commit leaves nothing behind", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const std::string data = random_bytes(4 * k);
    const Digest d = digest_of(data);
    {
        auto store = open_store(options);
        const Usage before = store->usage();
        {
            auto writer = store->begin(d, "application/octet-stream");
            REQUIRE(writer.has_value());
            REQUIRE((*writer)->append(std::span<const char>(data.data(), 3 * k + 1)));
            CHECK((*writer)->bytes_written() == 3 * k + 1);
            REQUIRE(store->flush());  // the chunks reached the disk
        }
        auto info = store->stat(d);
        REQUIRE(info.has_value());
        CHECK_FALSE(info->has_value());
        REQUIRE(store->flush());
        CHECK(store->usage().used_bytes <= before.used_bytes + 8 * 4096);
        // A new writer for the digest is accepted and completes.
        CHECK(write_blob(*store, d, data).has_value());
        CHECK(read_all(*store, d) == data);
        REQUIRE(store->remove(d));
    }
    RawEnv raw(options.path);
    CHECK(raw.entries("chunks") == 0);
}

TEST_CASE("compressible data is stored smaller and reads back unchanged", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = text_bytes(5 * k + 3);
    const Digest d = put_blob(*store, data, "application/vnd.oci.image.layer.v1.tar");
    auto info = store->stat(d);
    REQUIRE(info.has_value());
    REQUIRE(info->has_value());
    CHECK((*info)->stored_bytes < data.size() / 2);
    CHECK((*info)->pages * 4096 < data.size() / 2);
    CHECK(read_all(*store, d) == data);
}

TEST_CASE("random data is stored raw, filling whole pages", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = random_bytes(3 * k);
    const Digest d = put_blob(*store, data);
    auto info = store->stat(d);
    REQUIRE(info->has_value());
    CHECK((*info)->stored_bytes == data.size());
    CHECK((*info)->pages == 3 * 256);  // a raw chunk fills exactly 256 pages
}

TEST_CASE("gzip layers are stored raw without trying to compress", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    // Compressible bytes behind a gzip header: had zstd been tried, it would have won.
    std::string gzip_magic = text_bytes(2 * k + 9, 77);
    gzip_magic[0] = '\x1f';
    gzip_magic[1] = '\x8b';
    const Digest by_magic = put_blob(*store, gzip_magic, "application/octet-stream");
    auto info = store->stat(by_magic);
    REQUIRE(info->has_value());
    CHECK((*info)->stored_bytes == gzip_magic.size());
    CHECK(read_all(*store, by_magic) == gzip_magic);

    std::string zstd_magic = text_bytes(k, 78);
    zstd_magic.replace(0, 4, "\x28\xb5\x2f\xfd");
    const Digest by_zstd_magic = put_blob(*store, zstd_magic);
    CHECK((*store->stat(by_zstd_magic))->stored_bytes == zstd_magic.size());

    for (const char* media : {"application/vnd.oci.image.layer.v1.tar+gzip",
                              "application/vnd.docker.image.rootfs.diff.tar.gzip",
                              "application/vnd.oci.image.layer.v1.tar+zstd"}) {
        CAPTURE(media);
        const std::string text = text_bytes(k + 1, std::hash<std::string>{}(media));
        const Digest d = put_blob(*store, text, media);
        auto i = store->stat(d);
        REQUIRE(i->has_value());
        CHECK((*i)->stored_bytes == text.size());
        CHECK((*i)->media_type == media);
    }
}

TEST_CASE("a second writer for a digest being written is refused as busy", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = random_bytes(k + 3);
    const Digest d = digest_of(data);
    auto first = store->begin(d, "x");
    REQUIRE(first.has_value());
    auto second = store->begin(d, "x");
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error() == errc::busy);
    REQUIRE((*first)->append(data));
    REQUIRE((*first)->commit());
    auto again = store->begin(d, "x");
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error() == errc::exists);
    auto committed_twice = (*first)->commit();
    CHECK_FALSE(committed_twice.has_value());
}

TEST_CASE("concurrent readers never see a partial blob", "[store]") {
    TempDir dir;
    auto options = options_for(dir);
    options.commit_every_chunks = 2;  // many commits while the blobs are being written
    auto store = open_store(options);
    constexpr int k_blobs = 8;
    std::vector<std::string> blobs;
    std::vector<Digest> digests;
    for (int i = 0; i < k_blobs; ++i) {
        blobs.push_back(random_bytes(3 * k + 1000 * i, 100 + i));
        digests.push_back(digest_of(blobs.back()));
    }
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::atomic<int> seen_complete{0};
    std::thread writer([&] {
        for (int i = 0; i < k_blobs; ++i) {
            if (!write_blob(*store, digests[i], blobs[i], "x", 300'000)) ++bad;
        }
        done = true;
    });
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&, r] {
            bool last_round = false;
            while (!last_round) {
                last_round = done.load();
                for (int i = 0; i < k_blobs; ++i) {
                    const int j = (i + r * 3) % k_blobs;
                    auto info = store->stat(digests[j]);
                    if (!info) {
                        ++bad;
                        continue;
                    }
                    if (!*info) continue;  // not there yet: fine
                    auto back = read_all(*store, digests[j]);
                    if (!back || *back != blobs[j]) ++bad;
                    if (last_round) ++seen_complete;
                }
            }
        });
    }
    writer.join();
    for (auto& t : readers)
        t.join();
    CHECK(bad == 0);
    CHECK(seen_complete == 2 * k_blobs);  // after the writer finished, every blob was there
}

TEST_CASE("a full map fails the write, keeps earlier blobs and stays usable", "[store]") {
    for (unsigned batch : {1u, 32u}) {
        CAPTURE(batch);
        TempDir dir;
        auto options = options_for(dir);
        options.map_size = 4ull << 20;
        options.commit_every_chunks = batch;
        const std::string early = random_bytes(k + 10, 5);
        const std::string big = random_bytes(10ull << 20, 6);
        const std::string later = text_bytes(100'000, 7);
        {
            auto store = open_store(options);
            const Digest e = put_blob(*store, early);
            auto r = write_blob(*store, digest_of(big), big);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error() == errc::map_full);
            auto info = store->stat(digest_of(big));
            REQUIRE(info.has_value());
            CHECK_FALSE(info->has_value());
            CHECK(read_all(*store, e) == early);
            REQUIRE(store->flush());
            // The room of the abandoned write is free again.
            const Digest l = put_blob(*store, later);
            CHECK(read_all(*store, l) == later);
            CHECK(store->usage().blobs == 2);
        }
        RecoveryReport report;
        auto store = open_store(options, &report);
        CHECK(report.partial_removed == 0);
        CHECK(report.blobs == 2);
        CHECK(read_all(*store, digest_of(early)) == early);
    }
}

TEST_CASE("a corrupted chunk is detected, never served, and its blob removed", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const std::string data = random_bytes(3 * k, 9);
    const std::string text = text_bytes(3 * k, 10);
    const Digest d = digest_of(data);
    const Digest t = digest_of(text);
    {
        auto store = open_store(options);
        put_blob(*store, data);
        put_blob(*store, text);
    }
    {
        RawEnv raw(options.path);
        raw.flip_chunk_byte(d, 1, 12345);
        raw.flip_chunk_byte(t, 2, 100);
    }
    auto store = open_store(options);
    store::ChunkBuffer out;
    REQUIRE(store->read_chunk(d, 0, out));
    CHECK(out.view() == data.substr(0, k));
    for (const Digest& bad : {d, t}) {
        const std::uint32_t index = bad == d ? 1 : 2;
        auto r = store->read_chunk(bad, index, out);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::corrupt);
        CHECK(out.empty());
    }
    REQUIRE(store->flush());
    CHECK_FALSE(store->stat(d)->has_value());
    CHECK_FALSE(store->stat(t)->has_value());
    CHECK(store->usage().blobs == 0);
}

TEST_CASE("the removal listener hears once of a blob removed because a read found it corrupt",
          "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const std::string data = random_bytes(3 * k, 24);
    const std::string other = text_bytes(2 * k, 25);
    const Digest d = digest_of(data);
    const Digest o = digest_of(other);
    {
        auto store = open_store(options);
        put_blob(*store, data);
        put_blob(*store, other);
    }
    {
        RawEnv raw(options.path);
        raw.flip_chunk_byte(d, 1, 777);
    }
    auto store = open_store(options);
    struct Heard {
        Digest digest;
        std::thread::id thread;
        bool gone = false;  // the blob was already deleted when the listener ran
    };
    std::mutex mutex;
    std::vector<Heard> heard;
    store->set_removal_listener([&](const Digest& removed) {
        const bool gone = !store->stat(removed)->has_value();
        std::lock_guard lock(mutex);
        heard.push_back({removed, std::this_thread::get_id(), gone});
    });
    store::ChunkBuffer out;
    CHECK(store->read_chunk(d, 1, out).error() == errc::corrupt);
    CHECK(store->read_chunk(d, 1, out).error() != boost::system::error_code());
    CHECK_FALSE(read_all(*store, d).has_value());
    REQUIRE(store->flush());
    {
        std::lock_guard lock(mutex);
        REQUIRE(heard.size() == 1);
        CHECK(heard[0].digest == d);
        CHECK(heard[0].thread != std::this_thread::get_id());
        CHECK(heard[0].gone);
    }
    CHECK_FALSE(store->stat(d)->has_value());
    CHECK(store->usage().blobs == 1);

    REQUIRE(store->remove(o));
    REQUIRE(store->flush());
    std::lock_guard lock(mutex);
    CHECK(heard.size() == 1);  // remove() is the caller's own doing: not reported
}

TEST_CASE("a large chunk whose page header is not as expected is read through the map", "[store]") {
    // Large chunks are copied with pread at the file offset their overflow page header names,
    // after the first bytes are checked against the map. Point that header at another page: the
    // read must notice, fall back to the map, and serve the right bytes without calling the
    // chunk corrupt.
    TempDir dir;
    const auto options = options_for(dir);
    const std::string data = random_bytes(2 * k, 21);
    const Digest d = digest_of(data);
    {
        auto store = open_store(options);
        put_blob(*store, data);
    }
    const auto file = options.path / "data.mdb";
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const std::size_t payload = bytes.find(data.substr(k, 64));
    REQUIRE(payload != std::string::npos);
    REQUIRE(payload >= 16);
    std::uint64_t page_number = 0;
    std::memcpy(&page_number, bytes.data() + payload - 16, sizeof page_number);
    const std::uint64_t page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    REQUIRE(page_number * page_size + 16 == payload);  // the layout the fast path relies on
    {
        const std::uint64_t wrong = 2;
        std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
        out.seekp(static_cast<std::streamoff>(payload - 16));
        out.write(reinterpret_cast<const char*>(&wrong), sizeof wrong);
    }
    auto store = open_store(options);
    store::ChunkBuffer out;
    REQUIRE(store->read_chunk(d, 1, out));
    CHECK(out.view() == data.substr(k));
    REQUIRE(store->flush());
    CHECK(store->stat(d)->has_value());
}

TEST_CASE("opening reports the read path its self-check chose and leaves no probe", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    RecoveryReport report;
    {
        auto store = open_store(options, &report);
        CHECK(report.read_path == "pread");  // Linux, LMDB 0.9: the layout the fast path needs
        const std::string data = random_bytes(2 * k, 22);
        const Digest d = put_blob(*store, data);
        CHECK(read_all(*store, d) == data);
        REQUIRE(store->remove(d));
    }
    RawEnv raw(options.path);
    CHECK(raw.entries("chunks") == 0);
}

TEST_CASE("remove deletes a blob and its usage, and removing a missing blob succeeds", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const Usage empty = store->usage();
    const std::string data = random_bytes(2 * k + 1);
    const Digest d = put_blob(*store, data);
    const Usage full = store->usage();
    CHECK(full.blobs == 1);
    CHECK(full.blob_bytes == data.size());
    CHECK(full.used_bytes >= empty.used_bytes + 2 * 256 * 4096);
    CHECK(full.map_bytes == 1ull << 30);
    REQUIRE(store->remove(d));
    CHECK_FALSE(store->stat(d)->has_value());
    const Usage after = store->usage();
    CHECK(after.blobs == 0);
    CHECK(after.blob_bytes == 0);
    CHECK(after.used_bytes + 2 * 256 * 4096 <= full.used_bytes);
    CHECK(store->remove(d).has_value());
    CHECK(store->remove(digest_of("never")).has_value());
}

TEST_CASE("max_uncommitted_bytes is the writer queue, one commit batch and one chunk, in pages",
          "[store]") {
    REQUIRE(sysconf(_SC_PAGESIZE) == 4096);
    // A raw chunk fills 256 pages; 4 more per chunk are the stated margin for tree pages.
    constexpr std::uint64_t k_per_chunk = (256 + 4) * 4096;
    TempDir dir;
    auto options = options_for(dir);
    SECTION("the defaults: 8 queued and 32 per commit") {
        auto store = open_store(options);
        CHECK(store->max_uncommitted_bytes() == (8 + 32 + 1) * k_per_chunk);
    }
    SECTION("other bounds") {
        options.queue_chunks = 3;
        options.commit_every_chunks = 5;
        auto store = open_store(options);
        CHECK(store->max_uncommitted_bytes() == (3 + 5 + 1) * k_per_chunk);
        CHECK(store->max_uncommitted_bytes() >= (3 + 5 + 1) * std::uint64_t{k});
    }
    SECTION("zero bounds, which the writer takes as one") {
        options.queue_chunks = 0;
        options.commit_every_chunks = 0;
        auto store = open_store(options);
        CHECK(store->max_uncommitted_bytes() == 3 * k_per_chunk);
    }
}

TEST_CASE("the bytes of a queue and a batch of chunks, once committed, fit max_uncommitted_bytes",
          "[store]") {
    TempDir dir;
    auto options = options_for(dir);
    options.queue_chunks = 2;
    options.commit_every_chunks = 3;
    auto store = open_store(options);
    REQUIRE(store->flush());
    const std::uint64_t before = store->usage().used_bytes;
    put_blob(*store, random_bytes((2 + 3 + 1) * k, 23));  // raw: the most pages a chunk takes
    REQUIRE(store->flush());
    const std::uint64_t grown = store->usage().used_bytes - before;
    CHECK(grown >= (2 + 3 + 1) * 256 * 4096);
    CHECK(grown <= store->max_uncommitted_bytes());
}

TEST_CASE("for_each_blob lists every complete blob and only those", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    std::vector<Digest> expected;
    for (int i = 0; i < 5; ++i)
        expected.push_back(put_blob(*store, text_bytes(1000 + i, i)));
    const std::string partial = random_bytes(k + 1);
    auto writer = store->begin(digest_of(partial), "x");
    REQUIRE(writer.has_value());
    REQUIRE((*writer)->append(partial));
    REQUIRE(store->flush());
    std::vector<Digest> seen;
    REQUIRE(store->for_each_blob([&](const Digest& d, const BlobInfo& info) {
        seen.push_back(d);
        CHECK(info.size >= 1000);
    }));
    std::sort(expected.begin(), expected.end());
    CHECK(seen == expected);  // keys are digests, so the walk is in digest order
}

TEST_CASE("touch records hits and last access once flushed", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const Digest d = put_blob(*store, "hello");
    auto before = store->stat(d);
    CHECK((*before)->hits == 0);
    CHECK((*before)->created > 0);
    for (int i = 0; i < 3; ++i)
        store->touch(d);
    store->touch(digest_of("absent"));  // ignored
    REQUIRE(store->flush());
    auto after = store->stat(d);
    CHECK((*after)->hits == 3);
    CHECK((*after)->last_access >= (*before)->last_access);
    CHECK((*after)->size == 5);
    CHECK(read_all(*store, d) == "hello");
}

TEST_CASE("touches held back for their interval are all counted once by flush", "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const Digest d = put_blob(*store, "hello");
    // The first touch is queued at once, the next ones wait for the interval: flush must
    // commit them, and count none twice.
    for (int i = 0; i < 3; ++i)
        store->touch(d);
    REQUIRE(store->flush());
    for (int i = 0; i < 2; ++i)
        store->touch(d);
    REQUIRE(store->flush());
    REQUIRE(store->flush());
    auto after = store->stat(d);
    CHECK((*after)->hits == 5);
}

TEST_CASE("tags, refs and records round-trip and list by prefix", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const Digest m = digest_of("manifest");
    const Digest c1 = digest_of("config");
    const Digest c2 = digest_of("layer");
    {
        auto store = open_store(options);
        REQUIRE(store->put_tag({"docker.io", "library/alpine", "3.19"},
                               {m, "application/vnd.oci.image.index.v1+json", 1700000000}));
        REQUIRE(store->put_tag({"docker.io", "library/alpine", "3.18"}, {c1, "x", 1}));
        REQUIRE(store->put_tag({"docker.io", "library/alpine2", "latest"}, {c2, "y", 2}));
        REQUIRE(store->put_tag({"ghcr.io", "library/alpine", "edge"}, {c2, "y", 3}));
        REQUIRE(store->put_refs(m, {c1, c2}));
        REQUIRE(store->put_record("envs", "abc", "{\"a\":1}"));
        REQUIRE(store->put_record("envs", "abd", std::string("bin\0ary", 7)));
        REQUIRE(store->put_record("env_names", "abc", "other table"));
        REQUIRE(store->put_record("envs", "zzz", "last"));
        REQUIRE(store->delete_record("envs", "zzz"));
        REQUIRE(store->delete_record("envs", "never-there"));
    }
    auto store = open_store(options);  // everything survives a reopen
    auto tag = store->get_tag({"docker.io", "library/alpine", "3.19"});
    REQUIRE(tag.has_value());
    REQUIRE(tag->has_value());
    CHECK((*tag)->digest == m);
    CHECK((*tag)->media_type == "application/vnd.oci.image.index.v1+json");
    CHECK((*tag)->fetched_at == 1700000000);
    CHECK_FALSE(store->get_tag({"docker.io", "library/alpine", "3.17"})->has_value());
    auto tags = store->list_tags("docker.io", "library/alpine");
    REQUIRE(tags.has_value());
    CHECK(*tags == std::vector<std::string>{"3.18", "3.19"});
    CHECK(store->list_tags("quay.io", "library/alpine")->empty());

    CHECK(*store->get_refs(m) == std::vector<Digest>{c1, c2});
    CHECK(store->get_refs(c1)->empty());

    CHECK(**store->get_record("envs", "abc") == "{\"a\":1}");
    CHECK(**store->get_record("envs", "abd") == std::string("bin\0ary", 7));
    CHECK(**store->get_record("env_names", "abc") == "other table");
    CHECK_FALSE(store->get_record("envs", "zzz")->has_value());
    auto list = store->list_records("envs", "ab");
    REQUIRE(list.has_value());
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].first == "abc");
    CHECK((*list)[1].first == "abd");
    CHECK(store->list_records("envs", "")->size() == 2);
    auto bad_table = store->put_record(std::string_view("a\0b", 3), "k", "v");
    REQUIRE_FALSE(bad_table.has_value());
    CHECK(bad_table.error() == errc::invalid_argument);
    auto too_long = store->put_record("envs", std::string(600, 'k'), "v");
    REQUIRE_FALSE(too_long.has_value());
    CHECK(too_long.error() == errc::too_large);
}

TEST_CASE("a layer that turns compressible after incompressible chunks is compressed there",
          "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string data = random_bytes(2 * k, 31) + text_bytes(4 * k, 32);
    const Digest d = put_blob(*store, data);
    auto info = store->stat(d);
    REQUIRE(info->has_value());
    // The random chunks stay raw, the text chunks are compressed to well under half.
    CHECK((*info)->stored_bytes > 2 * k);
    CHECK((*info)->stored_bytes < 2 * k + 2 * k);
    CHECK(read_all(*store, d) == data);
}

TEST_CASE("with the commit gate in place a write does not complete until it is removed",
          "[store]") {
    using namespace std::chrono_literals;
    TempDir dir;
    auto options = options_for(dir);
    options.test_commit_gate = dir.path() / "commit-gate";
    auto store = open_store(options);
    const TagKey key{"docker.io", "library/alpine", "3.19"};
    const Digest d = digest_of("manifest");
    std::atomic<bool> opened{false};
    dir.write("commit-gate", "");
    SECTION("put_tag") {
        auto put = std::async(std::launch::async, [&] {
            auto r = store->put_tag(key, {d, "m", 1});
            return std::pair{r.has_value(), opened.load()};
        });
        GateOpener gate(options.test_commit_gate);
        CHECK(put.wait_for(200ms) == std::future_status::timeout);
        CHECK_FALSE(store->get_tag(key)->has_value());  // not committed
        opened = true;
        gate.open();
        REQUIRE(put.wait_for(30s) == std::future_status::ready);
        const auto [ok, after_opening] = put.get();
        CHECK(ok);
        CHECK(after_opening);
        CHECK(store->get_tag(key)->has_value());
    }
    SECTION("flush from another thread") {
        auto flushed = std::async(std::launch::async, [&] {
            auto r = store->flush();
            return std::pair{r.has_value(), opened.load()};
        });
        GateOpener gate(options.test_commit_gate);
        CHECK(flushed.wait_for(200ms) == std::future_status::timeout);
        opened = true;
        gate.open();
        REQUIRE(flushed.wait_for(30s) == std::future_status::ready);
        const auto [ok, after_opening] = flushed.get();
        CHECK(ok);
        CHECK(after_opening);
    }
}

TEST_CASE("a blob's chunks are in the data file before their commit", "[store]") {
    // The writer grows the file by a batch's chunk pages (FileGrowth) before the batch's
    // operations run, so with its commit held at the gate the file is already longer.
    using namespace std::chrono_literals;
    TempDir dir;
    auto options = options_for(dir);
    options.test_commit_gate = dir.path() / "commit-gate";
    auto store = open_store(options);
    const auto data_file = options.path / "data.mdb";
    const auto before = std::filesystem::file_size(data_file);
    const std::string data = random_bytes(3 * k, 21);
    const Digest d = digest_of(data);
    dir.write("commit-gate", "");
    auto written = std::async(std::launch::async, [&] { return write_blob(*store, d, data); });
    GateOpener gate(options.test_commit_gate);
    bool grown = false;
    for (int i = 0; i < 3000 && !grown; ++i) {  // until the writer reached the gate
        grown = std::filesystem::file_size(data_file) >= before + k;
        if (!grown) std::this_thread::sleep_for(10ms);
    }
    CHECK(grown);
    gate.open();
    REQUIRE(written.wait_for(30s) == std::future_status::ready);
    CHECK(written.get().has_value());
    CHECK(read_all(*store, d) == data);
}

TEST_CASE("with a commit delay every write takes at least that long", "[store]") {
    using namespace std::chrono_literals;
    TempDir dir;
    auto options = options_for(dir);
    options.test_commit_delay = 150ms;
    auto store = open_store(options);
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(store->put_tag({"u", "r", "a"}, {digest_of("a"), "m", 1}));
    const auto one = std::chrono::steady_clock::now() - start;
    REQUIRE(store->put_record("envs", "k", "v"));
    const auto two = std::chrono::steady_clock::now() - start;
    CHECK(one >= 150ms);
    CHECK(two >= 300ms);
    CHECK(store->get_tag({"u", "r", "a"})->has_value());
}
