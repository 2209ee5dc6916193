#include "store/touch_batch.hpp"

#include <algorithm>
#include <string>

#include "store/lmdb.hpp"
#include "store/records.hpp"

namespace store {

bool TouchBatch::record(const Digest& digest, std::int64_t unix_now, Clock::time_point now) {
    std::lock_guard lock(m_mutex);
    auto& t = m_pending[digest];
    t.last_access = std::max(t.last_access, unix_now);
    ++t.hits;
    if (m_queued || (m_last_queued && now - *m_last_queued < m_interval)) return false;
    m_queued = true;
    m_last_queued = now;
    return true;
}

bool TouchBatch::flush_due(Clock::time_point now) {
    std::lock_guard lock(m_mutex);
    if (m_pending.empty() || m_queued) return false;
    m_queued = true;
    m_last_queued = now;
    return true;
}

const TouchBatch::Touches& TouchBatch::take() {
    // The lock is held for a swap only: every hit takes it on a loop, and the writer thread
    // that takes runs at a lower priority (thread_priority.hpp), so it must not be preempted
    // with the lock held while it merges.
    {
        std::lock_guard lock(m_mutex);
        m_taken.swap(m_pending);  // m_taken is empty here, its buckets kept for the next hits
        m_queued = false;
    }
    for (const auto& [d, t] : m_taken) {
        auto& in = m_inflight[d];
        in.last_access = std::max(in.last_access, t.last_access);
        in.hits += t.hits;
    }
    m_taken.clear();
    return m_inflight;
}

int TouchBatch::apply(MDB_txn* txn, MDB_dbi blobs) {
    for (const auto& [d, t] : take()) {
        const std::string key = blob_key(d);
        MDB_val v;
        int rc = lmdb::get(txn, blobs, key, v);
        if (rc == MDB_NOTFOUND) continue;
        if (rc != 0) return rc;
        if (blob_state(lmdb::view(v)) != BlobState::complete) continue;
        std::string value(lmdb::view(v));
        patch_blob_access(value, t.last_access, t.hits);
        MDB_val k = lmdb::val(key);
        MDB_val nv = lmdb::val(value);
        if ((rc = mdb_put(txn, blobs, &k, &nv, 0)) != 0) return rc;
    }
    return 0;
}

}  // namespace store
