#pragma once
// Access-time touches: hits are recorded in memory and committed at most once per interval, so
// a read-mostly load does not make the writer commit (and fdatasync) for every hit. Touches are
// best effort: hits of a commit that fails are lost.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <lmdb.h>

#include "store/digest.hpp"

namespace store {

class TouchBatch {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds k_default_interval{1000};

    struct Touch {
        std::int64_t last_access = 0;  // unix seconds
        std::uint64_t hits = 0;
    };
    using Touches = std::unordered_map<Digest, Touch, DigestHash>;

    explicit TouchBatch(std::chrono::milliseconds interval = k_default_interval)
        : m_interval(interval) {}

    // Records a hit on `digest` at `unix_now`. Returns whether the caller must queue a commit
    // (apply, then done) now: when none is queued and the last was queued at least an interval
    // before `now`. Any thread.
    bool record(const Digest& digest, std::int64_t unix_now, Clock::time_point now);
    // For flush: returns whether the caller must queue a commit now, which is when hits are
    // pending and no commit is queued. The interval restarts at `now`. Any thread.
    bool flush_due(Clock::time_point now);

    // Writer thread, in the commit's transaction: moves the pending hits into the in-flight ones
    // and returns those. A replayed commit takes again; each hit is still counted once.
    const Touches& take();
    // Writer thread, in the commit's transaction: take(), then writes the in-flight hits into
    // their records in `blobs`. Digests without a complete record are skipped. An LMDB code.
    int apply(MDB_txn* txn, MDB_dbi blobs);
    // Writer thread, once the commit's outcome is known: forgets the in-flight hits.
    void done() { m_inflight.clear(); }

  private:
    const std::chrono::milliseconds m_interval;
    std::mutex m_mutex;  // guards m_pending, m_queued, m_last_queued
    Touches m_pending;
    bool m_queued = false;
    std::optional<Clock::time_point> m_last_queued;
    Touches m_inflight;  // writer thread only
    Touches m_taken;     // writer thread only: the pending hits take() swapped out, then empty
};

}  // namespace store
