#include "cache/cache.hpp"

#include <latch>
#include <memory>
#include <new>

#include <boost/asio/post.hpp>

#include "store/errors.hpp"
#include "store/thread_priority.hpp"

namespace cache {

// ---- Writer -------------------------------------------------------------------------------

Writer::Writer(Cache& cache, store::Digest digest, std::unique_ptr<store::BlobWriter> writer)
    : m_cache(cache), m_digest(digest), m_writer(std::move(writer)) {}

Writer::~Writer() {
    if (m_writer) m_cache.abandon(std::move(m_writer));
}

net::awaitable<result<void>> Writer::append(std::span<const char> bytes) {
    if (!m_writer) co_return store::errc::aborted;
    // The blob thread holds the store writer too: should this Writer go meanwhile, the writer
    // is abandoned only after the call returned.
    auto appending = m_cache.on_blobs([writer = m_writer, bytes] { return writer->append(bytes); });
    auto appended = co_await std::move(appending);
    if (appended) m_bytes += bytes.size();
    co_return appended;
}

net::awaitable<result<void>> Writer::commit() {
    if (!m_writer) co_return store::errc::aborted;
    auto committing = m_cache.on_blobs([writer = m_writer] { return writer->commit(); });
    auto committed = co_await std::move(committing);
    // A failed write stays until this Writer goes: its destructor removes it on the blob
    // threads, where waiting for the store is allowed.
    if (!committed) co_return committed;
    m_writer.reset();  // committed: nothing left to remove
    m_cache.evictor().on_inserted(m_digest, m_bytes);
    co_return committed;
}

void Writer::on_chunk_written(std::function<void(const store::WrittenChunk&)> fn) {
    if (m_writer) m_writer->on_chunk_written(std::move(fn));
}

// ---- Cache --------------------------------------------------------------------------------

namespace {

// The evictor's options, with removals reported to the hot tier as well: a blob leaves it
// before it leaves the store.
EvictorOptions with_removals_to(HotBlobs& hot, EvictorOptions options) {
    options.removing = [&hot, also = std::move(options.removing)](const store::Digest& digest) {
        hot.erase(digest);
        if (also) also(digest);
    };
    return options;
}

}  // namespace

Cache::Cache(std::unique_ptr<store::BlobStore> store, Options options)
    : m_store(std::move(store)),
      m_hot(options.hot),
      m_evictor(
          std::make_unique<Evictor>(*m_store, with_removals_to(m_hot, std::move(options.evictor)))),
      m_blob_threads(std::max(1u, options.blob_threads)),
      m_blob_pool(m_blob_threads) {
    m_store->set_removal_listener([this](const store::Digest& d) { on_removed_by_store(d); });
    lower_blob_threads(options.blob_nice);
}

void Cache::lower_blob_threads(int nice) {
    if (nice <= 0) return;
    // One task per thread: each waits until all have started, so no thread runs two. The latch
    // is shared: a task may still be leaving its wait after this constructor has gone on.
    auto started = std::make_shared<std::latch>(m_blob_threads);
    for (unsigned i = 0; i < m_blob_threads; ++i)
        net::post(m_blob_pool, [started, nice] {
            store::lower_this_thread(nice);
            started->arrive_and_wait();
        });
    started->wait();
}

Cache::~Cache() {
    // Queued writes and abandoned writers run to their end before the evictor and the store go.
    m_blob_pool.join();
    m_record_pool.join();
    m_evictor->stop();
    std::ignore = m_store->flush();
    // Nothing is queued any more, so the writer thread calls the listener no more: it can go
    // before the evictor it calls.
    m_store->set_removal_listener({});
    m_evictor.reset();
    m_store.reset();
}

result<void> Cache::start() {
    auto rebuilt = m_evictor->rebuild();
    m_evictor->start();
    return rebuilt;
}

result<std::optional<store::BlobInfo>> Cache::stat(const store::Digest& digest) {
    return m_store->stat(digest);
}

result<void> Cache::read_chunk(const store::Digest& digest, std::uint32_t index,
                               store::ChunkBuffer& out) {
    return m_store->read_chunk(digest, index, out);
}

result<void> Cache::read_written_chunk(const store::Digest& digest,
                                       const store::WrittenChunk& chunk, store::ChunkBuffer& out) {
    return m_store->read_written_chunk(digest, chunk, out);
}

result<void> Cache::read_range(const store::Digest& digest, std::uint64_t offset,
                               std::uint64_t length,
                               const std::function<bool(std::span<const char>)>& sink) {
    return m_store->read_range(digest, offset, length, sink);
}

result<std::optional<store::TagRecord>> Cache::get_tag(const store::TagKey& key) {
    return m_store->get_tag(key);
}

result<std::vector<std::string>> Cache::list_tags(const std::string& upstream,
                                                  const std::string& repo) {
    return m_store->list_tags(upstream, repo);
}

result<std::vector<store::Digest>> Cache::get_refs(const store::Digest& manifest) {
    return m_store->get_refs(manifest);
}

store::Usage Cache::usage() {
    return m_store->usage();
}

void Cache::record_hit(const store::Digest& digest) {
    m_store->touch(digest);
    m_evictor->on_hit(digest);
}

net::awaitable<Evictor::Lease> Cache::lease(const store::Digest& digest) {
    if (auto now = m_evictor->try_acquire(digest)) co_return std::move(*now);
    // That blob is being removed right now: wait for the removal on a cache thread.
    Evictor* evictor = m_evictor.get();
    auto waiting = on_records([evictor, digest] { return evictor->acquire(digest); });
    co_return co_await std::move(waiting);
}

net::awaitable<result<std::unique_ptr<Writer>>> Cache::begin(const store::Digest& digest,
                                                             std::string media_type) {
    store::BlobStore* s = m_store.get();
    auto beginning =
        on_blobs([s, digest, type = std::move(media_type)] { return s->begin(digest, type); });
    auto begun = co_await std::move(beginning);
    if (!begun) co_return begun.error();
    co_return std::make_unique<Writer>(*this, digest, std::move(*begun));
}

net::awaitable<result<void>> Cache::put_blob(const store::Digest& digest, std::string media_type,
                                             std::string bytes) {
    store::BlobStore* s = m_store.get();
    auto putting = on_blobs([s, digest, type = std::move(media_type),
                             bytes = std::move(bytes)]() -> result<std::uint64_t> {
        auto writer = s->begin(digest, type);
        if (!writer) return writer.error();
        if (auto appended = (*writer)->append(bytes); !appended) return appended.error();
        if (auto committed = (*writer)->commit(); !committed) return committed.error();
        return bytes.size();
    });
    auto put = co_await std::move(putting);
    if (!put) {
        if (put.error() == store::errc::exists) co_return result<void>{};
        co_return put.error();
    }
    m_evictor->on_inserted(digest, *put);
    co_return result<void>{};
}

net::awaitable<result<void>> Cache::put_tag(store::TagKey key, store::TagRecord record) {
    store::BlobStore* s = m_store.get();
    auto putting = on_records(
        [s, key = std::move(key), record = std::move(record)] { return s->put_tag(key, record); });
    co_return co_await std::move(putting);
}

net::awaitable<result<void>> Cache::put_refs(store::Digest manifest,
                                             std::vector<store::Digest> children) {
    store::BlobStore* s = m_store.get();
    auto putting = on_records(
        [s, manifest, children = std::move(children)] { return s->put_refs(manifest, children); });
    co_return co_await std::move(putting);
}

net::awaitable<Evictor::Reservation> Cache::reserve(std::uint64_t bytes) {
    if (auto now = m_evictor->try_reserve(bytes)) co_return now;
    Evictor* evictor = m_evictor.get();
    auto evicting = on_blobs([evictor, bytes] { return evictor->reserve(bytes); });
    co_return co_await std::move(evicting);
}

Evictor::Reservation Cache::reserve_spool(std::uint64_t bytes) {
    return m_evictor->try_reserve(bytes);
}

std::uint64_t Cache::max_uncommitted_bytes() const {
    return m_store->max_uncommitted_bytes();
}

result<void> Cache::flush() {
    return m_store->flush();
}

void Cache::abandon(std::shared_ptr<store::BlobWriter> writer) {
    net::post(m_blob_pool, [w = std::move(writer)]() mutable { w.reset(); });
}

void Cache::on_removed_by_store(const store::Digest& digest) {
    m_hot.erase(digest);
    m_evictor->on_removed(digest);
}

std::future<bool> Cache::offer_hot(const store::Digest& digest, const store::BlobInfo& info) {
    if (!m_hot.claim(digest, info.size)) return {};
    std::promise<bool> done;
    std::future<bool> copied = done.get_future();
    net::post(m_blob_pool, [this, digest, size = info.size, type = info.media_type,
                            done = std::move(done)]() mutable {
        // No lease: a copy, which may wait behind blocked writes, never keeps the evictor from
        // making room. A blob removed meanwhile was erased from the tier first, which voids
        // this claim (insert drops the copy), or its read fails here.
        bool made = false;
        bool held = false;
        try {
            auto copy = copy_hot(digest, size, std::move(type));
            made = copy.has_value();
            if (made) held = m_hot.insert(digest, std::move(*copy));
        } catch (const std::bad_alloc&) {
            made = false;  // no memory for the copy: the blob is served from the store
        }
        if (!made) m_hot.abandon(digest);
        done.set_value(held);
    });
    return copied;
}

result<std::shared_ptr<const HotBlob>> Cache::copy_hot(const store::Digest& digest,
                                                       std::uint64_t size, std::string media_type) {
    auto blob = HotBlob::create(size, std::move(media_type));
    if (!blob) return blob.error();
    // Chunk by chunk, each read in a read transaction of its own that ends before the bytes are
    // hashed and written: a copy never holds a snapshot that keeps freed pages from reuse.
    store::ChunkBuffer chunk;
    for (std::uint64_t at = 0; at < size; at += store::k_chunk_size) {
        const auto index = static_cast<std::uint32_t>(at / store::k_chunk_size);
        if (auto read = m_store->read_chunk(digest, index, chunk); !read) return read.error();
        if (auto appended = (*blob)->append(chunk.span()); !appended) return appended.error();
    }
    if (auto sealed = (*blob)->seal(digest); !sealed) return sealed.error();
    return std::shared_ptr<const HotBlob>(std::move(*blob));
}

}  // namespace cache
