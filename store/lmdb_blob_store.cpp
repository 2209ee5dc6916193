#include "store/lmdb_blob_store.hpp"

#include <algorithm>
#include <chrono>

#include "store/blob_removal.hpp"
#include "store/chunk_reader.hpp"
#include "store/errors.hpp"
#include "store/lmdb_blob_writer.hpp"
#include "store/lmdb_page.hpp"
#include "store/records.hpp"
#include "store/recovery.hpp"

namespace store {
namespace {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

boost::system::error_code fail(int rc) {
    return lmdb_error(rc);
}

}  // namespace

result<std::unique_ptr<BlobStore>> BlobStore::open(const Options& options, RecoveryReport* report) {
    auto store = LmdbBlobStore::create(options, report);
    if (!store) return store.error();
    return std::unique_ptr<BlobStore>(std::move(*store));
}

result<std::unique_ptr<LmdbBlobStore>> LmdbBlobStore::create(const Options& options,
                                                             RecoveryReport* report) {
    auto env = StoreEnv::open(options);
    if (!env) return env.error();
    auto recovered = recover(*env);
    if (!recovered) return recovered.error();
    ChunkReader reader(env->data_fd(), env->page_size());
    reader.self_check(env->get(), env->dbs().chunks);
    recovered->report.read_path = reader.read_path();
    if (report) *report = recovered->report;
    return std::unique_ptr<LmdbBlobStore>(
        new LmdbBlobStore(options, std::move(*env), std::move(reader), *recovered));
}

LmdbBlobStore::LmdbBlobStore(const Options& options, StoreEnv env, ChunkReader reader,
                             const Recovery& recovered)
    : m_options(options),
      m_env(std::move(env)),
      m_reader(std::move(reader)),
      m_blob_count(recovered.report.blobs),
      m_blob_bytes(recovered.blob_bytes),
      m_queue(std::make_unique<WriteQueue>(
          m_env.get(), m_options.commit_every_chunks, m_options.queue_chunks,
          CommitHooks{m_options.test_commit_delay, m_options.test_commit_gate}, k_default_gather,
          m_options.writer_nice, FileGrowth(m_env.get(), m_env.data_fd(), m_env.page_size()))),
      m_tables(m_env, *m_queue) {}

LmdbBlobStore::~LmdbBlobStore() {
    m_queue.reset();
}

result<void> LmdbBlobStore::write(std::function<int(MDB_txn*)> apply) {
    if (int rc = m_queue->run(std::move(apply)); rc != 0) return fail(rc);
    return {};
}

result<std::optional<BlobInfo>> LmdbBlobStore::stat(const Digest& digest) {
    lmdb::ReadTxn t(m_env.get());
    if (t.rc != 0) return fail(t.rc);
    MDB_val v;
    int rc = lmdb::get(t.get(), m_env.dbs().blobs, blob_key(digest), v);
    if (rc == MDB_NOTFOUND) return std::optional<BlobInfo>();
    if (rc != 0) return fail(rc);
    auto rec = decode_blob(lmdb::view(v), false);
    if (!rec) return errc::corrupt;
    if (rec->state != BlobState::complete) return std::optional<BlobInfo>();
    return std::optional<BlobInfo>(std::move(rec->info));
}

result<void> LmdbBlobStore::read_chunk(const Digest& digest, std::uint32_t index,
                                       ChunkBuffer& out) {
    boost::system::error_code ec;
    {
        lmdb::ReadTxn t(m_env.get());
        if (t.rc != 0) return fail(t.rc);
        MDB_val v;
        int rc = lmdb::get(t.get(), m_env.dbs().blobs, blob_key(digest), v);
        if (rc == MDB_NOTFOUND) return errc::not_found;
        if (rc != 0) return fail(rc);
        const auto record = lmdb::view(v);
        auto rec = decode_blob(record, false);
        if (!rec || rec->state != BlobState::complete) return errc::not_found;
        if (index >= rec->info.chunks) return errc::out_of_range;
        const std::uint64_t begin = std::uint64_t{index} * k_chunk_size;
        const auto expected =
            static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_size, rec->info.size - begin));
        auto entry = blob_chunk_entry(record, index);
        MDB_val cv;
        rc = lmdb::get(t.get(), m_env.dbs().chunks, chunk_key(digest, index), cv);
        if (rc != 0 && rc != MDB_NOTFOUND) return fail(rc);
        if (!entry || rc == MDB_NOTFOUND) {
            ec = errc::corrupt;
        } else {
            ec = m_reader.read(cv, *entry, expected, out);
        }
    }
    if (ec == errc::corrupt) {
        // Corrupt data is never served; the blob goes, and the next pull fetches it again.
        out.clear();
        queue_removal(digest);
    }
    if (ec) return ec;
    return {};
}

result<void> LmdbBlobStore::read_written_chunk(const Digest& digest, const WrittenChunk& chunk,
                                               ChunkBuffer& out) {
    lmdb::ReadTxn t(m_env.get());
    if (t.rc != 0) return fail(t.rc);
    MDB_val cv;
    const int rc = lmdb::get(t.get(), m_env.dbs().chunks, chunk_key(digest, chunk.index), cv);
    if (rc == MDB_NOTFOUND) return errc::not_found;
    if (rc != 0) return fail(rc);
    // Not removed when corrupt, unlike read_chunk: a blob being written has no record to
    // remove it by yet, and a committed one is removed by the next read_chunk of it.
    if (auto ec = m_reader.read(cv, chunk.entry, chunk.size, out); ec) {
        out.clear();
        return ec;
    }
    return {};
}

result<void> LmdbBlobStore::read_range(const Digest& digest, std::uint64_t offset,
                                       std::uint64_t length,
                                       const std::function<bool(std::span<const char>)>& sink) {
    auto info = stat(digest);
    if (!info) return info.error();
    if (!*info) return errc::not_found;
    const std::uint64_t size = (*info)->size;
    if (offset > size || length > size - offset) return errc::out_of_range;
    ChunkBuffer buf;
    std::uint64_t pos = offset;
    const std::uint64_t end = offset + length;
    while (pos < end) {
        const auto index = static_cast<std::uint32_t>(pos / k_chunk_size);
        if (auto r = read_chunk(digest, index, buf); !r) return r.error();
        const std::uint64_t chunk_begin = std::uint64_t{index} * k_chunk_size;
        const auto from = static_cast<std::size_t>(pos - chunk_begin);
        const auto to =
            static_cast<std::size_t>(std::min<std::uint64_t>(end - chunk_begin, buf.size()));
        if (to <= from) return errc::corrupt;
        if (!sink(std::span<const char>(buf.data() + from, to - from))) return {};
        pos = chunk_begin + to;
    }
    return {};
}

void LmdbBlobStore::touch(const Digest& digest) {
    if (m_touches.record(digest, now_seconds(), TouchBatch::Clock::now())) queue_touches();
}

void LmdbBlobStore::queue_touches() {
    m_queue->push(WriteOp{[this](MDB_txn* txn) { return m_touches.apply(txn, m_env.dbs().blobs); },
                          [this](int) { m_touches.done(); }, false});
}

result<std::unique_ptr<BlobWriter>> LmdbBlobStore::begin(const Digest& digest,
                                                         std::string media_type) {
    {
        std::lock_guard lock(m_mutex);
        if (!m_writing.insert(digest).second) return errc::busy;
    }
    // From here this writer owns the digest; writer_done releases it.
    std::optional<BlobState> state;
    {
        lmdb::ReadTxn t(m_env.get());
        MDB_val v;
        int rc = t.rc != 0 ? t.rc : lmdb::get(t.get(), m_env.dbs().blobs, blob_key(digest), v);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            writer_done(digest, std::nullopt);
            return fail(rc);
        }
        if (rc == 0) state = blob_state(lmdb::view(v));
    }
    if (state == BlobState::complete) {
        writer_done(digest, std::nullopt);
        return errc::exists;
    }
    // Left-overs of a write whose clean-up failed earlier (map full) go first.
    if (state) abandon(digest);
    return std::unique_ptr<BlobWriter>(
        std::make_unique<LmdbBlobWriter>(*this, digest, std::move(media_type)));
}

void LmdbBlobStore::abandon(const Digest& digest) {
    int rc = m_queue->run([this, digest](MDB_txn* txn) {
        return delete_blob(txn, m_env.dbs(), digest, BlobRemoval::partial_only, nullptr);
    });
    if (rc != MDB_MAP_FULL) return;
    // Deleting needs a few fresh pages; when the map is full, free one chunk per transaction
    // so each commit returns pages the next one can use. Whatever remains is removed at the
    // next start-up (the record stays `writing`, invisible to readers).
    for (;;) {
        bool deleted = false;
        rc = m_queue->run(
            [&](MDB_txn* txn) { return delete_first_chunk(txn, m_env.dbs(), digest, deleted); });
        if (rc != 0 || !deleted) break;
    }
    if (rc == 0) {
        m_queue->run([this, digest](MDB_txn* txn) {
            return delete_blob(txn, m_env.dbs(), digest, BlobRemoval::partial_only, nullptr);
        });
    }
}

void LmdbBlobStore::writer_done(const Digest& digest, std::optional<std::uint64_t> committed_size) {
    if (committed_size) {
        ++m_blob_count;
        m_blob_bytes += *committed_size;
    }
    std::lock_guard lock(m_mutex);
    m_writing.erase(digest);
}

void LmdbBlobStore::set_removal_listener(std::function<void(const Digest&)> listener) {
    m_removal_listener = std::move(listener);
}

void LmdbBlobStore::queue_removal(const Digest& digest) {
    auto removed = std::make_shared<std::optional<std::uint64_t>>();
    m_queue->push(WriteOp{[this, digest, removed](MDB_txn* txn) {
                              return delete_blob(txn, m_env.dbs(), digest,
                                                 BlobRemoval::complete_too, removed.get());
                          },
                          [this, digest, removed](int rc) {
                              // Several reads may queue the same removal; only the one that
                              // deleted the blob reports it.
                              if (rc != 0 || !*removed) return;
                              --m_blob_count;
                              m_blob_bytes -= **removed;
                              if (m_removal_listener) m_removal_listener(digest);
                          },
                          false});
}

result<void> LmdbBlobStore::remove(const Digest& digest) {
    std::optional<std::uint64_t> removed;
    auto r = write([&](MDB_txn* txn) {
        return delete_blob(txn, m_env.dbs(), digest, BlobRemoval::complete_too, &removed);
    });
    if (!r) return r;
    if (removed) {
        --m_blob_count;
        m_blob_bytes -= *removed;
    }
    return {};
}

result<void> LmdbBlobStore::put_tag(const TagKey& key, const TagRecord& record) {
    return m_tables.put_tag(key, record);
}

result<std::optional<TagRecord>> LmdbBlobStore::get_tag(const TagKey& key) {
    return m_tables.get_tag(key);
}

result<std::vector<std::string>> LmdbBlobStore::list_tags(const std::string& upstream,
                                                          const std::string& repo) {
    return m_tables.list_tags(upstream, repo);
}

result<void> LmdbBlobStore::put_refs(const Digest& manifest, const std::vector<Digest>& children) {
    return m_tables.put_refs(manifest, children);
}

result<std::vector<Digest>> LmdbBlobStore::get_refs(const Digest& manifest) {
    return m_tables.get_refs(manifest);
}

result<void> LmdbBlobStore::put_record(std::string_view table, std::string_view key,
                                       std::string_view value) {
    return m_tables.put_record(table, key, value);
}

result<std::optional<std::string>> LmdbBlobStore::get_record(std::string_view table,
                                                             std::string_view key) {
    return m_tables.get_record(table, key);
}

result<void> LmdbBlobStore::delete_record(std::string_view table, std::string_view key) {
    return m_tables.delete_record(table, key);
}

result<std::vector<std::pair<std::string, std::string>>> LmdbBlobStore::list_records(
    std::string_view table, std::string_view prefix) {
    return m_tables.list_records(table, prefix);
}

Usage LmdbBlobStore::usage() {
    Usage u;
    // The evictor polls usage regularly: a good moment to clear reader slots left by dead
    // processes, which would otherwise pin old pages and make the file grow.
    int stale = 0;
    mdb_reader_check(m_env.get(), &stale);
    MDB_envinfo info;
    mdb_env_info(m_env.get(), &info);
    u.map_bytes = info.me_mapsize;
    u.blobs = m_blob_count.load();
    u.blob_bytes = m_blob_bytes.load();
    lmdb::ReadTxn t(m_env.get());
    if (t.rc != 0) return u;
    // Pages reachable from the current meta page: two meta pages plus every tree's branch,
    // leaf and overflow pages (the free list's own tree included). Free pages are excluded:
    // LMDB reuses them, so they are room, not usage.
    std::uint64_t pages = 2;
    for (MDB_dbi dbi : {MDB_dbi{0}, MDB_dbi{1}, m_env.dbs().blobs, m_env.dbs().chunks,
                        m_env.dbs().tags, m_env.dbs().refs, m_env.dbs().records}) {
        MDB_stat st;
        if (mdb_stat(t.get(), dbi, &st) == 0) {
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        }
    }
    u.used_bytes = pages * m_env.page_size();
    return u;
}

std::uint64_t LmdbBlobStore::max_uncommitted_bytes() const {
    // Chunks appended but not committed: the queue's bound, the batch the writer is applying
    // (one commit), and the one the writer is filling or blocked pushing.
    const std::uint64_t chunks = m_queue->max_queued_chunks() + m_queue->batch_chunks() + 1;
    // Each takes at most a raw chunk's overflow run (a chunk is stored compressed only when
    // that is smaller). The margin: 4 pages per chunk for the tree pages its commit copies or
    // adds -- the chunks leaf and branches above it, the blob's record, free-list entries --
    // where a commit of one chunk needs about 3 and a batch shares them.
    constexpr std::uint64_t k_margin_pages_per_chunk = 4;
    const std::uint64_t page = m_env.page_size();
    return chunks * (lmdb_page::overflow_pages(k_chunk_size, page) + k_margin_pages_per_chunk) *
           page;
}

result<void> LmdbBlobStore::for_each_blob(
    const std::function<void(const Digest&, const BlobInfo&)>& fn) {
    // Collect in batches so no read transaction is held while `fn` runs.
    constexpr std::size_t k_batch = 1024;
    std::optional<std::string> after;
    for (;;) {
        std::vector<std::pair<Digest, BlobInfo>> batch;
        {
            lmdb::ReadTxn t(m_env.get());
            if (t.rc != 0) return fail(t.rc);
            lmdb::Cursor cursor;
            if (int rc = cursor.open(t.get(), m_env.dbs().blobs); rc != 0) return fail(rc);
            MDB_val k, v;
            int rc = 0;
            if (after) {
                k = lmdb::val(*after);
                rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
                if (rc == 0 && lmdb::view(k) == *after) {
                    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
                }
            } else {
                rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST);
            }
            for (; rc == 0 && batch.size() < k_batch;
                 rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
                after = std::string(lmdb::view(k));
                auto d = digest_from_key(lmdb::view(k));
                auto rec = decode_blob(lmdb::view(v), false);
                if (d && rec && rec->state == BlobState::complete) {
                    batch.emplace_back(*d, std::move(rec->info));
                }
            }
            if (rc != 0 && rc != MDB_NOTFOUND) return fail(rc);
            if (rc == MDB_NOTFOUND) after.reset();
        }
        for (const auto& [d, info] : batch)
            fn(d, info);
        if (!after) return {};
    }
}

result<void> LmdbBlobStore::flush() {
    // Queues the touches still waiting for their interval, then waits for everything queued.
    if (m_touches.flush_due(TouchBatch::Clock::now())) queue_touches();
    return write([](MDB_txn*) { return 0; });
}

}  // namespace store
