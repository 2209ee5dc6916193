#pragma once
// The LMDB implementation of BlobStore. See records.hpp for the on-disk layout. Its parts:
// StoreEnv and recover() open it, ChunkReader reads chunk payloads, TouchBatch holds hits until
// they are committed, RecordTables serves tags, refs and records, and every write goes through
// the WriteQueue's thread.

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "store/blob_store.hpp"
#include "store/chunk_reader.hpp"
#include "store/lmdb.hpp"
#include "store/record_tables.hpp"
#include "store/records.hpp"
#include "store/recovery.hpp"
#include "store/store_env.hpp"
#include "store/touch_batch.hpp"
#include "store/write_queue.hpp"

namespace store {

class LmdbBlobStore final : public BlobStore {
  public:
    // Opens (creating if needed) and recovers; see BlobStore::open. The map is
    // map_size_for(options).
    static result<std::unique_ptr<LmdbBlobStore>> create(const Options& options,
                                                         RecoveryReport* report);
    // Applies every queued write, then closes the environment. Every BlobWriter must have
    // been destroyed before.
    ~LmdbBlobStore() override;

    result<std::optional<BlobInfo>> stat(const Digest& digest) override;
    result<void> read_chunk(const Digest& digest, std::uint32_t index, ChunkBuffer& out) override;
    result<void> read_written_chunk(const Digest& digest, const WrittenChunk& chunk,
                                    ChunkBuffer& out) override;
    result<void> read_range(const Digest& digest, std::uint64_t offset, std::uint64_t length,
                            const std::function<bool(std::span<const char>)>& sink) override;
    void touch(const Digest& digest) override;
    result<std::unique_ptr<BlobWriter>> begin(const Digest& digest,
                                              std::string media_type) override;
    result<void> remove(const Digest& digest) override;
    void set_removal_listener(std::function<void(const Digest&)> listener) override;
    result<void> put_tag(const TagKey& key, const TagRecord& record) override;
    result<std::optional<TagRecord>> get_tag(const TagKey& key) override;
    result<std::vector<std::string>> list_tags(const std::string& upstream,
                                               const std::string& repo) override;
    result<void> put_refs(const Digest& manifest, const std::vector<Digest>& children) override;
    result<std::vector<Digest>> get_refs(const Digest& manifest) override;
    result<void> put_record(std::string_view table, std::string_view key,
                            std::string_view value) override;
    result<std::optional<std::string>> get_record(std::string_view table,
                                                  std::string_view key) override;
    result<void> delete_record(std::string_view table, std::string_view key) override;
    result<std::vector<std::pair<std::string, std::string>>> list_records(
        std::string_view table, std::string_view prefix) override;
    Usage usage() override;
    std::uint64_t max_uncommitted_bytes() const override;
    result<void> for_each_blob(
        const std::function<void(const Digest&, const BlobInfo&)>& fn) override;
    result<void> flush() override;

    // For the writer (same translation unit family; not part of the public API).
    const Options& options() const { return m_options; }
    MDB_dbi blobs_dbi() const { return m_env.dbs().blobs; }
    MDB_dbi chunks_dbi() const { return m_env.dbs().chunks; }
    std::uint64_t page_size() const { return m_env.page_size(); }
    WriteQueue& queue() { return *m_queue; }
    // Deletes everything of a blob that is not complete; falls back to one chunk per
    // transaction when the map is full. Blocks until done.
    void abandon(const Digest& digest);
    // Called when a writer finishes, successfully or not.
    void writer_done(const Digest& digest, std::optional<std::uint64_t> committed_size);

  private:
    LmdbBlobStore(const Options& options, StoreEnv env, ChunkReader reader,
                  const Recovery& recovered);
    result<void> write(std::function<int(MDB_txn*)> apply);
    void queue_removal(const Digest& digest);
    void queue_touches();

    Options m_options;
    StoreEnv m_env;
    ChunkReader m_reader;
    std::function<void(const Digest&)> m_removal_listener;  // set before concurrent use

    std::atomic<std::uint64_t> m_blob_count{0};
    std::atomic<std::uint64_t> m_blob_bytes{0};

    std::mutex m_mutex;  // guards m_writing
    std::unordered_set<Digest, DigestHash> m_writing;
    TouchBatch m_touches;

    std::unique_ptr<WriteQueue> m_queue;  // reset first in the destructor
    RecordTables m_tables;                // writes through *m_queue
};

}  // namespace store
