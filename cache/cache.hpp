#pragma once
// The cache core: the blob store and the evictor behind one interface. It is the one place that
// sees every insert, every hit (from the store or from an in-memory copy in front of it) and
// every removal (eviction, a corrupt chunk found by a read, the admin), so the eviction policy
// never drifts from what the store holds.
//
// Reads (stat, chunks, tags, refs, records) run on the caller's thread: an LMDB read takes no
// lock and never waits for the writer. Everything that writes runs on the cache's own threads
// while the calling coroutine is suspended: blob appends (which compress, and wait while the
// store's write queue is full), commits, tags, refs, records, and reservations that must evict
// first. A slow disk therefore holds back the download that writes (back-pressure reaches its
// upstream socket), never an io thread.

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>

#include "cache/evictor.hpp"
#include "cache/hot_blobs.hpp"
#include "store/blob_store.hpp"

namespace cache {

namespace net = boost::asio;

template <class T>
using result = boost::system::result<T>;

class Cache;

// A blob being written. Append in order (each append awaited before the next), then commit.
// Destroying an uncommitted writer abandons the write, on the cache's threads.
class Writer {
  public:
    Writer(Cache& cache, store::Digest digest, std::unique_ptr<store::BlobWriter> writer);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // `bytes` must stay valid until the append returns (the caller awaits it).
    net::awaitable<result<void>> append(std::span<const char> bytes);
    // Makes the blob visible if its digest matches (errc::digest_mismatch otherwise), and
    // reports the insert to the evictor. After a failure, what was written stays readable
    // (Cache::read_written_chunk) until this writer is destroyed, which removes it.
    net::awaitable<result<void>> commit();
    // See store::BlobWriter::on_chunk_written: set before the first append.
    void on_chunk_written(std::function<void(const store::WrittenChunk&)> fn);
    std::uint64_t bytes_written() const { return m_bytes; }

  private:
    Cache& m_cache;
    store::Digest m_digest;
    std::shared_ptr<store::BlobWriter> m_writer;  // shared with the blob thread during a call
    std::uint64_t m_bytes = 0;
};

class Cache {
  public:
    struct Options {
        EvictorOptions evictor;
        // Threads for blob writes (appends and commits wait for the disk; reservations may
        // evict). Each blocked write holds one; the others wait their turn, suspended.
        unsigned blob_threads = 2;
        // Added to the blob threads' nice value: their work (hashing, chunking and compressing
        // downloads, hot-tier copies) yields to the loops under CPU contention.
        int blob_nice = 0;
        // The hot tier of small blobs in memory (off while max_bytes is 0).
        HotBlobs::Options hot;
    };

    // Takes the opened store. Call start() before serving.
    Cache(std::unique_ptr<store::BlobStore> store, Options options);
    // Runs the queued work to its end, stops the evictor, flushes and closes the store. Every
    // Writer, Lease and Reservation must be gone, and nobody may await the cache any more.
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    // Restores the evictor's state from the store (limits and pins set through the admin API,
    // every blob) and starts its background thread. An error leaves an empty policy.
    result<void> start();

    // ---- reads, on the caller's thread ----
    result<std::optional<store::BlobInfo>> stat(const store::Digest& digest);
    result<void> read_chunk(const store::Digest& digest, std::uint32_t index,
                            store::ChunkBuffer& out);
    // A chunk of a blob being written, as its Writer reported it (on_chunk_written).
    result<void> read_written_chunk(const store::Digest& digest, const store::WrittenChunk& chunk,
                                    store::ChunkBuffer& out);
    result<void> read_range(const store::Digest& digest, std::uint64_t offset, std::uint64_t length,
                            const std::function<bool(std::span<const char>)>& sink);
    result<std::optional<store::TagRecord>> get_tag(const store::TagKey& key);
    result<std::vector<std::string>> list_tags(const std::string& upstream,
                                               const std::string& repo);
    result<std::vector<store::Digest>> get_refs(const store::Digest& manifest);
    store::Usage usage();

    // A blob or manifest was served, from the store or from any copy kept in front of it:
    // records the access in the store and tells the policy.
    void record_hit(const store::Digest& digest);

    // ---- the hot tier (hot_blobs.hpp) ----
    // The in-memory copy of `digest`, or null. Serving it is a hit like any other: call
    // record_hit too. No lease is needed: the copy stays valid while it is held.
    std::shared_ptr<const HotBlob> find_hot(const store::Digest& digest) {
        return m_hot.find(digest);
    }
    // Called when `digest` was served from the store: copies it into the hot tier in the
    // background (on the blob threads, its digest checked; without a lease, so that it never
    // holds up eviction) when it belongs there. Never waits. The future says when the copy is done
    // (true: the blob is hot now); it is not valid when no copy was started. Callers may drop it.
    std::future<bool> offer_hot(const store::Digest& digest, const store::BlobInfo& info);
    HotBlobs::Stats hot_stats() const { return m_hot.stats(); }

    // Held while a blob is served from the store: the evictor never removes it under a reader.
    // Suspends (never blocks) while that very blob is being removed.
    net::awaitable<Evictor::Lease> lease(const store::Digest& digest);

    // ---- writes, on the cache's threads ----
    // errc::exists if the blob is complete already, errc::busy while another writer has it.
    net::awaitable<result<std::unique_ptr<Writer>>> begin(const store::Digest& digest,
                                                          std::string media_type);
    // A small blob in one go (a manifest): begin, append, commit. errc::exists is success.
    net::awaitable<result<void>> put_blob(const store::Digest& digest, std::string media_type,
                                          std::string bytes);
    net::awaitable<result<void>> put_tag(store::TagKey key, store::TagRecord record);
    net::awaitable<result<void>> put_refs(store::Digest manifest,
                                          std::vector<store::Digest> children);
    // Room for a write of `bytes`: at once when it fits, else after evicting on the cache's
    // threads. Empty when it cannot fit even after eviction (stream it without storing).
    net::awaitable<Evictor::Reservation> reserve(std::uint64_t bytes);
    // Room for a download's spool file under storage.path, when it fits under max_size now.
    // Never evicts: the spool is a transient copy, and making room for it would evict hot
    // content for bytes that are gone once the clients are done. Empty when it does not fit.
    Evictor::Reservation reserve_spool(std::uint64_t bytes);

    // Bytes a writer may have appended that usage() does not count yet; a reservation keeps
    // this much beyond what is still to come.
    std::uint64_t max_uncommitted_bytes() const;

    // Runs `fn` on the blob threads (the work of downloads that waits for the disk or takes
    // the CPU: writes, hashing, copies; they yield to the loops) and resumes the caller with its
    // result.
    template <class F>
    auto on_blobs(F fn) -> net::awaitable<std::invoke_result_t<F&>> {
        return run_on(m_blob_pool, std::move(fn));
    }
    // Runs `fn` on the thread for records and control work (tags, refs, pins, limits, the
    // admin and environment APIs' store writes) and resumes the caller with its result.
    template <class F>
    auto on_records(F fn) -> net::awaitable<std::invoke_result_t<F&>> {
        return run_on(m_record_pool, std::move(fn));
    }
    net::any_io_executor records_executor() { return m_record_pool.get_executor(); }

    // For the admin API, verify and tests: the evictor and the store themselves. Their
    // synchronous calls may wait for the disk; call them off the io threads (on_records).
    Evictor& evictor() { return *m_evictor; }
    store::BlobStore& store() { return *m_store; }

    // Waits until every queued store write (touches included) is committed.
    result<void> flush();

  private:
    friend class Writer;

    // Runs `fn` on `pool` and resumes the caller, on its own executor, with the result.
    template <class F>
    static auto run_on(net::thread_pool& pool, F fn) -> net::awaitable<std::invoke_result_t<F&>> {
        using R = std::invoke_result_t<F&>;
        // A caller cancelled meanwhile (shutdown) gets the result all the same: without this,
        // the spawned side would throw while handing it back, on a pool thread.
        auto run = [fn = std::move(fn)]() mutable -> net::awaitable<R> {
            co_await net::this_coro::throw_if_cancelled(false);
            co_return fn();
        };
        // The work is not cancellable, so the caller's cancellation slot is not passed on: a
        // cancellation forwarded to the pool raced the spawned side's end (a handler emitted
        // after it was gone).
        auto spawned = net::co_spawn(
            pool, std::move(run),
            net::bind_cancellation_slot(net::cancellation_slot(), net::use_awaitable));
        co_return co_await std::move(spawned);
    }
    // Lets go of an abandoned store writer on the blob threads: its destructor, there or on
    // the blob thread still calling it, waits for the store to delete what it wrote.
    void abandon(std::shared_ptr<store::BlobWriter> writer);
    void on_removed_by_store(const store::Digest& digest);
    // Lowers each of the blob pool's threads by `nice` (Options::blob_nice).
    void lower_blob_threads(int nice);
    // Copies a complete blob of `size` bytes out of the store into a sealed hot blob.
    result<std::shared_ptr<const HotBlob>> copy_hot(const store::Digest& digest, std::uint64_t size,
                                                    std::string media_type);

    std::unique_ptr<store::BlobStore> m_store;
    // Before the evictor, which drops blobs from it as it removes them.
    HotBlobs m_hot;
    std::unique_ptr<Evictor> m_evictor;
    const unsigned m_blob_threads;  // the blob pool's size
    net::thread_pool m_blob_pool;
    net::thread_pool m_record_pool{1};
};

}  // namespace cache
