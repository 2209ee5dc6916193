#pragma once
// The streaming writer of LmdbBlobStore: hashes appended bytes, cuts them into chunks,
// compresses each chunk on the appending thread, and queues it to the store's writer thread.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/blob_store.hpp"
#include "store/chunk_codec.hpp"
#include "store/records.hpp"
#include "store/sha256.hpp"

namespace store {

class LmdbBlobStore;

class LmdbBlobWriter final : public BlobWriter {
  public:
    LmdbBlobWriter(LmdbBlobStore& store, const Digest& digest, std::string media_type);
    // Without a successful commit, removes everything written (blocks until removed).
    ~LmdbBlobWriter() override;
    LmdbBlobWriter(const LmdbBlobWriter&) = delete;
    LmdbBlobWriter& operator=(const LmdbBlobWriter&) = delete;

    result<void> append(std::span<const char> bytes) override;
    result<void> commit() override;
    std::uint64_t bytes_written() const override { return m_bytes; }
    void on_chunk_written(std::function<void(const WrittenChunk&)> fn) override;

  private:
    // Shared with the operations queued to the writer thread: the first LMDB failure of any
    // queued chunk (0 while all is well), and payload buffers the writer thread has finished
    // with. Reusing those saves faulting in and zeroing fresh pages for every 1 MiB chunk.
    struct Shared {
        std::atomic<int> rc{0};
        std::mutex mutex;
        std::vector<std::string> spare;                    // at most k_spare_buffers
        std::function<void(const WrittenChunk&)> written;  // set before the first chunk
        std::string take();
        void give_back(std::string&& buffer);
    };

    // Queues one chunk for the writer thread, in its own buffer (compressed there when that
    // pays).
    void queue_chunk(std::string chunk);
    // Queues the chunk in m_buf and starts m_buf afresh on a spare buffer.
    void queue_staged();
    result<void> failed() const;
    void finish(std::optional<std::uint64_t> committed_size);

    LmdbBlobStore& m_store;
    Digest m_digest;
    std::string m_media_type;
    Sha256 m_sha;
    std::string m_buf;  // the chunk being filled; at most k_chunk_size bytes
    std::string m_encoded;
    std::optional<bool> m_raw_only;  // decided on the first chunk
    std::unique_ptr<ChunkEncoder> m_encoder;
    std::vector<ChunkEntry> m_entries;
    std::uint64_t m_bytes = 0;
    std::uint64_t m_stored = 0;
    std::uint64_t m_pages = 0;
    std::int64_t m_created = 0;
    std::shared_ptr<Shared> m_shared = std::make_shared<Shared>();
    bool m_committing = false;  // commit() was called: no more appends or commits
    bool m_finished = false;    // the store was told the write ended (committed or abandoned)
};

}  // namespace store
