#include "store/lmdb_blob_writer.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "store/crc32c.hpp"
#include "store/errors.hpp"
#include "store/lmdb.hpp"
#include "store/lmdb_blob_store.hpp"
#include "store/lmdb_page.hpp"

namespace store {
namespace {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Pages a chunk value takes. Values too big for a leaf node (LMDB's nodemax, about half a
// page minus the node header and key) go to their own run of overflow pages; small ones share
// a leaf page and are counted as none.
std::uint64_t chunk_pages(std::size_t payload, std::uint64_t page_size) {
    constexpr std::size_t k_chunk_key_size = 32 + 4;  // digest, index (records.hpp)
    const std::uint64_t node = lmdb_page::k_node_header_size + k_chunk_key_size + payload;
    return node > lmdb_page::node_max(page_size) ? lmdb_page::overflow_pages(payload, page_size)
                                                 : 0;
}

// More than the writer queue holds at once is never needed.
constexpr std::size_t k_spare_buffers = 4;

}  // namespace

std::string LmdbBlobWriter::Shared::take() {
    std::lock_guard lock(mutex);
    if (spare.empty()) return {};
    std::string b = std::move(spare.back());
    spare.pop_back();
    return b;
}

void LmdbBlobWriter::Shared::give_back(std::string&& buffer) {
    std::lock_guard lock(mutex);
    if (spare.size() < k_spare_buffers) spare.push_back(std::move(buffer));
}

LmdbBlobWriter::LmdbBlobWriter(LmdbBlobStore& store, const Digest& digest, std::string media_type)
    : m_store(store),
      m_digest(digest),
      m_media_type(std::move(media_type)),
      m_created(now_seconds()) {
    m_buf.reserve(k_chunk_size);
}

LmdbBlobWriter::~LmdbBlobWriter() {
    if (m_finished) return;
    m_store.abandon(m_digest);
    finish(std::nullopt);
}

result<void> LmdbBlobWriter::failed() const {
    if (int rc = m_shared->rc.load(); rc != 0) return lmdb_error(rc);
    return {};
}

void LmdbBlobWriter::on_chunk_written(std::function<void(const WrittenChunk&)> fn) {
    m_shared->written = std::move(fn);
}

result<void> LmdbBlobWriter::append(std::span<const char> bytes) {
    if (m_committing) return errc::aborted;
    if (auto r = failed(); !r) return r;
    m_sha.update(bytes);
    m_bytes += bytes.size();
    // Every byte is copied once, into the chunk being filled, whose buffer then goes to the
    // writer thread as it is (or holds the chunk compressed).
    while (!bytes.empty()) {
        const std::size_t take = std::min<std::size_t>(k_chunk_size - m_buf.size(), bytes.size());
        m_buf.append(bytes.data(), take);
        bytes = bytes.subspan(take);
        if (m_buf.size() == k_chunk_size) queue_staged();
    }
    return failed();
}

void LmdbBlobWriter::queue_staged() {
    queue_chunk(std::exchange(m_buf, m_shared->take()));
    m_buf.clear();
    m_buf.reserve(k_chunk_size);
}

void LmdbBlobWriter::queue_chunk(std::string chunk) {
    const auto& options = m_store.options();
    if (!m_raw_only) {
        m_raw_only = is_precompressed(m_media_type, std::span<const char>(chunk).first(
                                                        std::min<std::size_t>(8, chunk.size())));
        if (!*m_raw_only) {
            m_encoder = std::make_unique<ChunkEncoder>(options.zstd_level, options.min_saving);
        }
    }
    const auto size = static_cast<std::uint32_t>(chunk.size());
    Codec codec = Codec::raw;
    if (!*m_raw_only) codec = m_encoder->encode(chunk, m_encoded);
    if (codec == Codec::zstd) chunk.assign(m_encoded);
    // Owned by both functions of the queued operation: `apply` may run twice, and the buffer
    // goes back to the spares once `done` runs.
    auto payload = std::make_shared<std::string>(std::move(chunk));
    const std::uint32_t crc = crc32c(*payload);
    m_entries.push_back(ChunkEntry{codec, crc});
    m_stored += payload->size();
    const std::uint64_t pages = chunk_pages(payload->size(), m_store.page_size());
    m_pages += pages;

    const auto index = static_cast<std::uint32_t>(m_entries.size() - 1);
    std::string key = chunk_key(m_digest, index);
    std::string record;
    if (index == 0) {
        // The record goes in with the first chunk, in state `writing`: start-up recovery
        // finds and removes the chunks of a write that never completed.
        BlobRecord r;
        r.state = BlobState::writing;
        r.info.media_type = m_media_type;
        r.info.created = m_created;
        record = encode_blob(r);
    }
    const MDB_dbi chunks = m_store.chunks_dbi();
    const MDB_dbi blobs = m_store.blobs_dbi();
    auto shared = m_shared;
    auto blob = blob_key(m_digest);
    m_store.queue().push(
        WriteOp{[shared, chunks, blobs, key = std::move(key), payload, record = std::move(record),
                 blob = std::move(blob)](MDB_txn* txn) {
                    if (shared->rc.load() != 0) return 0;  // the write already failed: skip
                    if (!record.empty()) {
                        MDB_val k = lmdb::val(blob);
                        MDB_val v = lmdb::val(record);
                        if (int rc = mdb_put(txn, blobs, &k, &v, 0); rc != 0) return rc;
                    }
                    MDB_val k = lmdb::val(key);
                    MDB_val v = lmdb::val(*payload);
                    return mdb_put(txn, chunks, &k, &v, 0);
                },
                [shared, payload, written = WrittenChunk{index, size, m_entries.back()}](int rc) {
                    int expected = 0;
                    if (rc != 0) shared->rc.compare_exchange_strong(expected, rc);
                    // After a failure, later chunks were skipped (apply returned 0 unwritten).
                    if (shared->rc.load() == 0 && shared->written) shared->written(written);
                    shared->give_back(std::move(*payload));
                },
                true, pages * m_store.page_size()});
}

result<void> LmdbBlobWriter::commit() {
    if (m_committing) return errc::aborted;
    m_committing = true;
    if (!m_buf.empty()) queue_chunk(std::move(m_buf));
    m_buf = std::string();  // no more chunks: the staging buffer's memory goes
    const Digest actual = m_sha.finish();
    boost::system::error_code ec;
    if (auto r = failed(); !r) {
        ec = r.error();
    } else if (actual != m_digest) {
        ec = errc::digest_mismatch;
    } else {
        BlobRecord rec;
        rec.state = BlobState::complete;
        rec.info.size = m_bytes;
        rec.info.stored_bytes = m_stored;
        rec.info.pages = m_pages;
        rec.info.chunks = static_cast<std::uint32_t>(m_entries.size());
        rec.info.media_type = m_media_type;
        rec.info.created = m_created;
        rec.info.last_access = now_seconds();
        rec.chunks = std::move(m_entries);
        const std::string value = encode_blob(rec);
        const std::string key = blob_key(m_digest);
        const MDB_dbi blobs = m_store.blobs_dbi();
        auto shared = m_shared;
        const int rc = m_store.queue().run([&, shared](MDB_txn* txn) {
            if (shared->rc.load() != 0) return 0;
            MDB_val k = lmdb::val(key);
            MDB_val v = lmdb::val(value);
            return mdb_put(txn, blobs, &k, &v, 0);
        });
        if (rc != 0) {
            ec = lmdb_error(rc);
        } else if (auto r = failed(); !r) {
            ec = r.error();
        }
    }
    // What was written stays readable until the destructor removes it.
    if (ec) return ec;
    finish(m_bytes);
    return {};
}

void LmdbBlobWriter::finish(std::optional<std::uint64_t> committed_size) {
    m_finished = true;
    m_store.writer_done(m_digest, committed_size);
}

}  // namespace store
