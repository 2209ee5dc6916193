#pragma once
// The content-addressed blob store: one LMDB environment, chunked blobs, tag and ref records.
// Synchronous API, safe to call from any thread. Writes go through one writer thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "store/chunk_buffer.hpp"
#include "store/chunk_entry.hpp"
#include "store/digest.hpp"

namespace store {

template <class T>
using result = boost::system::result<T>;

inline constexpr std::uint32_t k_chunk_size = 1'048'560;  // 256 * 4096 - 16

struct Options {
    std::filesystem::path path;
    std::uint64_t map_size = 0;  // 0: derived from max_size (2x, at least 64 MiB)
    std::uint64_t max_size = 0;  // the admin's limit; used only to size the map when map_size = 0
    int zstd_level = 3;
    double min_saving = 0.10;
    unsigned commit_every_chunks = 32;  // writer batches this many chunks per LMDB commit
    std::size_t queue_chunks = 8;       // bound of the writer queue (back-pressure)
    int writer_nice = 0;                // the writer thread's nice increment (thread_priority.hpp)

    // Test hooks that make the disk look slow; leave them at their defaults outside tests.
    // The writer thread sleeps this long before every LMDB commit.
    std::chrono::milliseconds test_commit_delay{0};
    // When not empty, before every commit the writer thread waits while a file exists at this
    // path (polling every 10 ms), for at most 120 s, then commits anyway.
    std::filesystem::path test_commit_gate;
};

struct BlobInfo {
    std::uint64_t size = 0;          // bytes of the blob
    std::uint64_t stored_bytes = 0;  // bytes of chunk payloads after compression
    std::uint64_t pages = 0;         // LMDB pages the chunks occupy (what the disk sees)
    std::uint32_t chunks = 0;
    std::string media_type;
    std::int64_t created = 0;      // unix seconds
    std::int64_t last_access = 0;  // unix seconds
    std::uint64_t hits = 0;
    std::uint32_t pins = 0;
};

struct TagKey {
    std::string upstream;
    std::string repo;
    std::string tag;

    friend bool operator==(const TagKey&, const TagKey&) = default;
};

struct TagKeyHash {
    std::size_t operator()(const TagKey& key) const noexcept;
};

struct TagRecord {
    Digest digest;
    std::string media_type;
    std::int64_t fetched_at = 0;  // unix seconds
};

struct Usage {
    std::uint64_t used_bytes = 0;  // pages in use * page size (what the disk sees)
    std::uint64_t map_bytes = 0;   // the LMDB map size
    std::uint64_t blobs = 0;
    std::uint64_t blob_bytes = 0;  // sum of logical blob sizes
};

struct RecoveryReport {
    std::uint64_t partial_removed = 0;
    int stale_readers = 0;
    std::uint64_t blobs = 0;
    // How large chunk payloads are read, as found by a start-up self-check: "pread" (copied
    // from the data file, not mapped), or "map: <why not pread>".
    std::string read_path;
};

// A chunk of a blob being written whose transaction has committed: what a reader needs to read
// it back (BlobStore::read_written_chunk) while the write goes on, before the blob's record
// lists its chunks.
struct WrittenChunk {
    std::uint32_t index = 0;
    std::uint32_t size = 0;  // bytes once decompressed
    ChunkEntry entry;
};

// A blob being written. Append bytes in order, then commit. Destroying an uncommitted writer
// abandons the write; nothing of it stays visible or on disk.
class BlobWriter {
  public:
    virtual ~BlobWriter() = default;
    // Hashes and queues the bytes. May block while the writer queue is full (back-pressure).
    virtual result<void> append(std::span<const char> bytes) = 0;
    // Makes the blob visible if its SHA-256 matches the expected digest; otherwise returns an
    // error (errc::digest_mismatch) and later calls fail. What was written stays readable
    // through read_written_chunk until the writer is destroyed; after a digest mismatch, the
    // last chunks may still be reported after commit returned.
    virtual result<void> commit() = 0;
    virtual std::uint64_t bytes_written() const = 0;
    // Calls `fn` for each chunk, in order, once its transaction has committed; on the store's
    // writer thread, so it must be quick and must not call the store. Set before the first
    // append. The writer's pending operations hold a copy, so it may run after the writer is
    // gone.
    virtual void on_chunk_written(std::function<void(const WrittenChunk&)> fn) = 0;
};

class BlobStore {
  public:
    // Opens (creating if needed) and recovers: removes partial blobs, clears stale readers.
    static result<std::unique_ptr<BlobStore>> open(const Options& options,
                                                   RecoveryReport* report = nullptr);
    virtual ~BlobStore() = default;

    // Complete blobs only. A miss is std::nullopt.
    virtual result<std::optional<BlobInfo>> stat(const Digest& digest) = 0;
    // Decompressed bytes of chunk `index` into `out` (replaced). Chunk i covers bytes
    // [i * k_chunk_size, min(size, (i+1) * k_chunk_size)).
    virtual result<void> read_chunk(const Digest& digest, std::uint32_t index,
                                    ChunkBuffer& out) = 0;
    // Decompressed bytes of a chunk that BlobWriter::on_chunk_written reported, into `out`
    // (replaced): of a blob still being written, or committed since. Fails (errc::not_found)
    // once the write was abandoned or the blob removed; errc::corrupt if the bytes read back
    // do not match the chunk's CRC.
    virtual result<void> read_written_chunk(const Digest& digest, const WrittenChunk& chunk,
                                            ChunkBuffer& out) = 0;
    // Calls `sink` with consecutive pieces of [offset, offset + length); stops early if sink
    // returns false. Each piece is valid only during the call.
    virtual result<void> read_range(const Digest& digest, std::uint64_t offset,
                                    std::uint64_t length,
                                    const std::function<bool(std::span<const char>)>& sink) = 0;
    // Records a hit (last access, hit count); applied asynchronously by the writer.
    virtual void touch(const Digest& digest) = 0;

    // Starts writing a blob. errc::exists if it is already complete (serve it instead);
    // errc::busy while another writer of this store writes the same digest (wait for it or
    // stream from upstream without storing). Destroy every writer before the store.
    virtual result<std::unique_ptr<BlobWriter>> begin(const Digest& digest,
                                                      std::string media_type) = 0;
    // Removes a complete blob and its chunks. Removing a missing blob succeeds.
    virtual result<void> remove(const Digest& digest) = 0;
    // `listener` is called after a complete blob that the store removed on its own -- because
    // a read found one of its chunks corrupt -- has been deleted, once per blob deleted; never
    // for remove(). It runs on the writer thread with no store lock held and no transaction
    // open, so it may read the store but must not wait for the writer (flush, remove, put_*,
    // begin, a BlobWriter) or it deadlocks. Set once, before the store is used concurrently.
    virtual void set_removal_listener(std::function<void(const Digest&)> listener) = 0;

    virtual result<void> put_tag(const TagKey& key, const TagRecord& record) = 0;
    virtual result<std::optional<TagRecord>> get_tag(const TagKey& key) = 0;
    // Tags stored for one repository, sorted.
    virtual result<std::vector<std::string>> list_tags(const std::string& upstream,
                                                       const std::string& repo) = 0;

    // Children of a manifest (config, layers, index children).
    virtual result<void> put_refs(const Digest& manifest, const std::vector<Digest>& children) = 0;
    virtual result<std::vector<Digest>> get_refs(const Digest& manifest) = 0;

    // Small key/value records for named tables ("envs", "env_names", "settings"); the value is
    // opaque bytes (the callers store JSON).
    virtual result<void> put_record(std::string_view table, std::string_view key,
                                    std::string_view value) = 0;
    virtual result<std::optional<std::string>> get_record(std::string_view table,
                                                          std::string_view key) = 0;
    virtual result<void> delete_record(std::string_view table, std::string_view key) = 0;
    // Records whose key starts with `prefix`, in key order.
    virtual result<std::vector<std::pair<std::string, std::string>>> list_records(
        std::string_view table, std::string_view prefix) = 0;

    virtual Usage usage() = 0;
    // Bytes a writer may have appended that are not yet counted in usage().used_bytes: the
    // writer queue plus one commit batch, and the chunk the writer is filling, in the pages
    // they take on disk with a margin. Each other writer appending at the same time can add its
    // own chunk being filled (k_chunk_size). Fixed for the store's lifetime.
    virtual std::uint64_t max_uncommitted_bytes() const = 0;
    // Every complete blob, for rebuilding eviction state at start-up.
    virtual result<void> for_each_blob(
        const std::function<void(const Digest&, const BlobInfo&)>& fn) = 0;
    // Waits until every queued write (including touches) is committed.
    virtual result<void> flush() = 0;
};

}  // namespace store
