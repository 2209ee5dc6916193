#pragma once
// The store's single writer: a thread that takes operations from a queue and applies them in
// batched LMDB write transactions. Chunk operations count against a bound, so producers block
// (back-pressure) while the disk is slower than the network.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include <lmdb.h>

#include "store/file_growth.hpp"

namespace store {

struct WriteOp {
    // Applies the operation inside the batch transaction; returns an LMDB code. A non-zero
    // code aborts the batch, which is then replayed one operation per transaction so that
    // only the failing operation fails. `apply` may therefore run more than once and must
    // keep its in-memory side effects to `done`.
    std::function<int(MDB_txn*)> apply;
    // Called on the writer thread once the outcome is known: 0 after its transaction
    // committed, otherwise the failing LMDB code. No transaction is open during the call.
    std::function<void(int)> done;
    bool is_chunk = false;  // counts against the queue bound
    // Bytes of new pages the operation may add to the data file (a chunk's overflow pages):
    // the batch's sum is grown ahead of its commit (file_growth.hpp).
    std::uint64_t bytes = 0;
};

// What the writer thread does before every commit: test hooks that make the disk look slow
// (Options::test_commit_delay and test_commit_gate).
struct CommitHooks {
    std::chrono::milliseconds delay{0};  // sleep this long
    std::filesystem::path gate;          // then, if set, wait while this file exists...
    std::chrono::milliseconds gate_timeout{std::chrono::seconds(120)};  // ...at most this long
};

// How long the writer waits for more chunks while only a few are queued (group commit).
inline constexpr std::chrono::milliseconds k_default_gather{10};

class WriteQueue {
  public:
    // Group commit: while the queue holds chunk operations only, fewer than a batch and fewer
    // than its bound, the writer waits up to `gather` for more before it opens a transaction,
    // so a download commits (and syncs) several chunks at a time instead of each one. Any
    // other operation ends the wait: nothing but chunks of unfinished blobs is held back,
    // and nobody waits for those.
    // The writer thread runs `nice` below the thread that made the queue (see
    // thread_priority.hpp): nobody waits for a commit on a loop. Before each batch writes,
    // `growth` grows the data file by the batch's WriteOp::bytes.
    WriteQueue(MDB_env* env, unsigned batch_chunks, std::size_t max_queued_chunks,
               CommitHooks hooks = {}, std::chrono::milliseconds gather = k_default_gather,
               int nice = 0, FileGrowth growth = FileGrowth(nullptr, -1, 4096));
    ~WriteQueue();  // applies everything queued, then joins the thread
    WriteQueue(const WriteQueue&) = delete;
    WriteQueue& operator=(const WriteQueue&) = delete;

    // Queues an operation. Blocks while a chunk operation would exceed the bound.
    void push(WriteOp op);
    // Queues `apply` and waits for its outcome (0 or the LMDB code).
    int run(std::function<int(MDB_txn*)> apply);

    // Chunk operations applied in one transaction at most (batch_chunks, at least 1).
    unsigned batch_chunks() const { return m_batch_chunks; }
    // Chunk operations queued at most (max_queued_chunks, at least 1).
    std::size_t max_queued_chunks() const { return m_max_queued_chunks; }
    // Transactions committed so far.
    std::uint64_t commits() const { return m_commits.load(); }

  private:
    void loop();
    void run_batch(std::deque<WriteOp>& ops);
    void before_commit() const;
    // Whether the writer may wait for more chunks before taking the queue (m_mutex held).
    bool gathering() const;

    MDB_env* m_env;
    unsigned m_batch_chunks;
    std::size_t m_max_queued_chunks;
    CommitHooks m_hooks;
    std::chrono::milliseconds m_gather;
    int m_nice;
    FileGrowth m_growth;  // used by the writer thread only
    std::atomic<std::uint64_t> m_commits{0};

    std::mutex m_mutex;
    std::condition_variable m_work;   // the writer waits for operations
    std::condition_variable m_space;  // producers wait for room in the bound
    std::deque<WriteOp> m_queue;
    std::size_t m_queued_chunks = 0;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace store
