// Reading a blob back while it is being written: BlobWriter::on_chunk_written and
// BlobStore::read_written_chunk.

#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "store/errors.hpp"
#include "tests/store/store_test_util.hpp"

using namespace store;
using namespace store::test;

namespace {

constexpr std::size_t k = k_chunk_size;

// The chunks a writer reported, from the store's writer thread.
struct Reported {
    std::mutex mutex;
    std::vector<WrittenChunk> chunks;

    void listen(BlobWriter& writer) {
        writer.on_chunk_written([this](const WrittenChunk& chunk) {
            const std::lock_guard lock(mutex);
            chunks.push_back(chunk);
        });
    }
    std::vector<WrittenChunk> all() {
        const std::lock_guard lock(mutex);
        return chunks;
    }
};

void append_all(BlobWriter& writer, const std::string& bytes) {
    for (std::size_t at = 0; at < bytes.size(); at += 300'000) {
        const auto n = std::min<std::size_t>(300'000, bytes.size() - at);
        REQUIRE(writer.append(std::span<const char>(bytes.data() + at, n)));
    }
}

// Chunk `chunk` as read back, compared with its bytes in `blob`.
void check_reads_back(BlobStore& store, const Digest& digest, const WrittenChunk& chunk,
                      const std::string& blob) {
    CAPTURE(chunk.index);
    ChunkBuffer out;
    REQUIRE(store.read_written_chunk(digest, chunk, out));
    const std::size_t start = std::size_t{chunk.index} * k;
    CHECK(chunk.size == std::min(k, blob.size() - start));
    CHECK(out.view() == std::string_view(blob).substr(start, chunk.size));
}

}  // namespace

TEST_CASE("each chunk of a blob being written is reported once committed and reads back",
          "[store]") {
    for (const bool text : {false, true}) {  // raw chunks and compressed ones
        CAPTURE(text);
        TempDir dir;
        auto store = open_store(options_for(dir));
        const std::string blob = text ? text_bytes(3 * k + 53, 3) : random_bytes(3 * k + 53, 4);
        const Digest d = digest_of(blob);
        Reported reported;  // outlives the writer, which reports to it
        auto writer = store->begin(d, "application/octet-stream");
        REQUIRE(writer);
        reported.listen(**writer);
        append_all(**writer, blob);
        // The three whole chunks are queued; once the queue is committed, all three are
        // reported, while the blob itself is not visible yet.
        REQUIRE(store->flush());
        auto chunks = reported.all();
        REQUIRE(chunks.size() == 3);
        for (std::uint32_t i = 0; i < 3; ++i) {
            CHECK(chunks[i].index == i);
            check_reads_back(*store, d, chunks[i], blob);
        }
        CHECK_FALSE(store->stat(d).value().has_value());
        // The commit writes the partial last chunk, reported before the commit returns.
        REQUIRE((*writer)->commit());
        chunks = reported.all();
        REQUIRE(chunks.size() == 4);
        check_reads_back(*store, d, chunks[3], blob);
        writer->reset();
        check_reads_back(*store, d, chunks[0], blob);  // committed: still there
        CHECK(read_all(*store, d) == blob);
    }
}

TEST_CASE("after a failed commit what was written reads back until the writer is destroyed",
          "[store]") {
    TempDir dir;
    auto store = open_store(options_for(dir));
    const std::string blob = random_bytes(2 * k + 7, 5);
    const Digest claimed = digest_of(random_bytes(100, 6));  // not the blob's digest
    Reported reported;  // outlives the writer, which reports to it
    auto writer = store->begin(claimed, "application/octet-stream");
    REQUIRE(writer);
    reported.listen(**writer);
    append_all(**writer, blob);
    auto committed = (*writer)->commit();
    REQUIRE_FALSE(committed);
    CHECK(committed.error() == errc::digest_mismatch);
    CHECK((*writer)->append(std::span<const char>(blob.data(), 1)).error() == errc::aborted);
    REQUIRE(store->flush());  // the commit failed before its last chunk was written
    const auto chunks = reported.all();
    REQUIRE(chunks.size() == 3);
    for (const auto& chunk : chunks)
        check_reads_back(*store, claimed, chunk, blob);
    writer->reset();  // removes what was written, and waits for it
    ChunkBuffer out;
    auto gone = store->read_written_chunk(claimed, chunks[0], out);
    REQUIRE_FALSE(gone);
    CHECK(gone.error() == errc::not_found);
    CHECK_FALSE(store->stat(claimed).value().has_value());
    CHECK(store->usage().blobs == 0);
}

TEST_CASE("when the write of a chunk fails no later chunk is reported", "[store]") {
    TempDir dir;
    auto options = options_for(dir);
    options.map_size = 4ull << 20;  // room for a chunk or two of a 10 MiB blob
    options.commit_every_chunks = 1;
    auto store = open_store(options);
    const std::string blob = random_bytes(10 * k, 7);
    const Digest d = digest_of(blob);
    Reported reported;  // outlives the writer, which reports to it
    auto writer = store->begin(d, "application/octet-stream");
    REQUIRE(writer);
    reported.listen(**writer);
    bool failed = false;
    for (std::size_t at = 0; at < blob.size() && !failed; at += 300'000) {
        const auto n = std::min<std::size_t>(300'000, blob.size() - at);
        failed = !(*writer)->append(std::span<const char>(blob.data() + at, n));
    }
    if (!failed) failed = !(*writer)->commit();
    REQUIRE(failed);
    REQUIRE(store->flush());
    const auto chunks = reported.all();
    CHECK(chunks.size() < 4);  // the map holds fewer
    for (std::uint32_t i = 0; i < chunks.size(); ++i) {
        CHECK(chunks[i].index == i);
        check_reads_back(*store, d, chunks[i], blob);
    }
}
