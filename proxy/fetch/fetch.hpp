#pragma once
// One download of one blob, shared by every client that asked for it while it runs. Each
// client reads at its own offset and waits for more when it caught up, so a slow client holds
// back nobody.
//
// Where the bytes are read from:
//   - while the store takes the blob: from the store, chunk by chunk, once a chunk's
//     transaction committed; the newer bytes from memory (the pieces the download handed on,
//     kept until the store holds them). Each byte is written to disk once.
//   - when the store does not take it, or drops out midway: from a spool, an unlinked file
//     under storage.path, created only then. What the store had written is copied there when
//     it drops out.

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "cache/cache.hpp"
#include "cache/evictor.hpp"
#include "proxy/fetch/spool_file.hpp"
#include "proxy/fetch/wake_list.hpp"
#include "store/chunk_buffer.hpp"
#include "store/digest.hpp"

namespace proxy::fetch {

namespace net = boost::asio;

enum class FetchState {
    starting,   // waiting for the upstream's answer
    streaming,  // bytes arriving
    complete,   // all bytes arrived and the digest matched
    failed,     // upstream error, broken stream or digest mismatch: clients must abort
};

struct FetchStatus {
    FetchState state = FetchState::starting;
    std::uint64_t written = 0;
    std::optional<std::uint64_t> size;  // from the upstream's Content-Length
    unsigned upstream_status = 0;       // the upstream's answer when it was not 200; 0: none
    bool spool_failed = false;          // failed because no spool could be made
    std::string media_type;

    // Bytes a client may send now. Until the digest is verified the last byte of a blob of
    // known size is held back, so no client ever receives a complete body of a bad blob.
    std::uint64_t sendable() const;
    bool done() const { return state == FetchState::complete || state == FetchState::failed; }
};

// Bytes as the download hands them on: read from upstream into `bytes`, then shared read-only
// with the clients until the store holds them.
struct Piece {
    static constexpr std::size_t k_capacity = 256 * 1024;
    std::unique_ptr<char[]> bytes = std::make_unique_for_overwrite<char[]>(k_capacity);
    std::size_t size = 0;
    std::uint64_t offset = 0;  // in the blob; set by Fetch::append
    std::span<const char> view() const { return {bytes.get(), size}; }
};

// The chunks of a download the store has written, in order. Filled on the store's writer
// thread (store::BlobWriter::on_chunk_written), so apart from the Fetch.
class WrittenChunks {
  public:
    void add(const store::WrittenChunk& chunk);
    // Bytes from the start that the store holds.
    std::uint64_t bytes() const;
    // The chunk holding byte `offset`, if the store holds it.
    std::optional<store::WrittenChunk> find(std::uint64_t offset) const;
    std::vector<store::WrittenChunk> all() const;

  private:
    mutable std::mutex m_mutex;
    std::vector<store::WrittenChunk> m_chunks;
    std::uint64_t m_bytes = 0;
};

// A chunk read back from the store, shared by the clients reading it.
struct DecodedChunk {
    std::uint32_t index = 0;
    store::ChunkBuffer bytes;
};

class Fetch {
  public:
    // One reader's hold on what it reads: what a read returns stays valid until its next read.
    class Cursor {
      private:
        friend class Fetch;
        bool holds(std::uint32_t index) const { return m_chunk && m_chunk->index == index; }
        std::shared_ptr<const DecodedChunk> m_chunk;
        std::shared_ptr<const Piece> m_piece;
        std::vector<char> m_buffer;  // spool reads
    };

    // `cache` is where the store's chunks are read back from; a spool, if one is needed, is
    // made under `spool_dir`.
    Fetch(store::Digest digest, std::filesystem::path spool_dir, cache::Cache& cache);

    const store::Digest& digest() const { return m_digest; }
    FetchStatus status() const;

    // Waits, on the caller's executor (which must be a strand or single-threaded), until more
    // than `offset` bytes are sendable or the fetch is done, and returns the status then.
    net::awaitable<FetchStatus> wait(std::uint64_t offset);

    // Up to `max` bytes from `offset`, valid until `cursor` reads again. Empty only at or past
    // what was written; an error when the store or the spool cannot be read.
    boost::system::result<std::span<const char>> read(std::uint64_t offset, std::size_t max,
                                                      Cursor& cursor) const;

    // Bytes of the pieces kept in memory until the store holds them.
    std::uint64_t bytes_in_memory() const;

    // Room for the spool's bytes in the store's limits, held until the last client has let go
    // of this fetch (and so of the unlinked spool file).
    void hold_spool_room(cache::Evictor::Reservation room) { m_spool_room = std::move(room); }

    // ---- producer side, called by the download only ----

    // Makes the spool file, unless there is one. Disk work: call it off the loops. Needed
    // before start_streaming(…, false); move_to_spool() makes it itself.
    boost::system::result<void> open_spool();
    // `to_store`: a store writer takes the bytes and reports its chunks to chunk_listener();
    // otherwise they go to the spool, which open_spool() made.
    void start_streaming(std::optional<std::uint64_t> size, std::string media_type, bool to_store);
    // What the store writer reports its written chunks to (store::BlobWriter::on_chunk_written).
    std::function<void(const store::WrittenChunk&)> chunk_listener() const;
    // A piece to read the next bytes into: `last` again when nobody else holds it, else a spare
    // one or a new one. Pieces the store holds are spares once no client reads them.
    std::shared_ptr<Piece> next_piece(std::shared_ptr<Piece> last);
    // Hands on the piece's bytes, the next ones of the blob. The piece must not change after.
    boost::system::result<void> append(std::shared_ptr<Piece> piece);
    // The store dropped out: copies what it had written, and the bytes still in memory, to the
    // spool, which clients read from then on. Call before the store writer is destroyed.
    boost::system::result<void> move_to_spool();
    void complete();
    void fail(unsigned upstream_status);
    // Fails because open_spool() did: clients not answered yet are told the mirror cannot take
    // the blob now, not that the upstream failed.
    void fail_to_spool();

  private:
    void set_failed(unsigned upstream_status, bool spool_failed);

    const store::Digest m_digest;
    cache::Cache& m_cache;
    const std::filesystem::path m_spool_dir;
    // Set once, by the download, before m_spooled turns true; readers use it only after they
    // saw m_spooled under the mutex.
    std::optional<SpoolFile> m_spool;
    cache::Evictor::Reservation m_spool_room;
    const std::shared_ptr<WrittenChunks> m_written = std::make_shared<WrittenChunks>();
    mutable std::mutex m_mutex;
    FetchStatus m_status;
    bool m_spooled = true;                            // the spool has every written byte
    std::deque<std::shared_ptr<const Piece>> m_tail;  // bytes the store may not hold yet
    std::vector<std::shared_ptr<Piece>> m_spares;     // pieces nobody reads any more
    // The chunk read back last: clients reading a chunk after another one did share its
    // decode (clients reading it at the same moment each decode it).
    mutable std::shared_ptr<const DecodedChunk> m_recent;
    mutable std::shared_ptr<DecodedChunk> m_spare_chunk;  // its buffer kept for the next decode
    WakeList m_waiters;
};

}  // namespace proxy::fetch
