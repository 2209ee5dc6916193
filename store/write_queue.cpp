#include "store/write_queue.hpp"

#include <algorithm>
#include <future>
#include <system_error>
#include <utility>

#include "store/lmdb.hpp"
#include "store/thread_priority.hpp"

namespace store {

namespace {

constexpr std::uint64_t k_growth_margin = 64 * 1024;

}  // namespace

WriteQueue::WriteQueue(MDB_env* env, unsigned batch_chunks, std::size_t max_queued_chunks,
                       CommitHooks hooks, std::chrono::milliseconds gather, int nice,
                       FileGrowth growth)
    : m_env(env),
      m_batch_chunks(batch_chunks == 0 ? 1 : batch_chunks),
      m_max_queued_chunks(max_queued_chunks == 0 ? 1 : max_queued_chunks),
      m_hooks(std::move(hooks)),
      m_gather(gather),
      m_nice(nice),
      m_growth(growth),
      m_thread([this] { loop(); }) {}

WriteQueue::~WriteQueue() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_work.notify_all();
    m_thread.join();
}

void WriteQueue::push(WriteOp op) {
    std::unique_lock lock(m_mutex);
    if (op.is_chunk) {
        m_space.wait(lock, [&] { return m_queued_chunks < m_max_queued_chunks; });
        ++m_queued_chunks;
    }
    m_queue.push_back(std::move(op));
    lock.unlock();
    m_work.notify_one();
}

int WriteQueue::run(std::function<int(MDB_txn*)> apply) {
    std::promise<int> outcome;
    auto future = outcome.get_future();
    push(WriteOp{std::move(apply), [&outcome](int rc) { outcome.set_value(rc); }, false});
    return future.get();
}

void WriteQueue::loop() {
    lower_this_thread(m_nice);
    for (;;) {
        std::deque<WriteOp> batch;
        {
            std::unique_lock lock(m_mutex);
            m_work.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty()) return;  // stopping and drained
            if (gathering()) m_work.wait_for(lock, m_gather, [&] { return !gathering(); });
            // Take what is queued now, up to the batch size; never wait for more while a
            // transaction would be open.
            unsigned chunks = 0;
            while (!m_queue.empty() && chunks < m_batch_chunks) {
                if (m_queue.front().is_chunk) ++chunks;
                batch.push_back(std::move(m_queue.front()));
                m_queue.pop_front();
            }
            m_queued_chunks -= chunks;
        }
        m_space.notify_all();
        run_batch(batch);
    }
}

bool WriteQueue::gathering() const {
    if (m_stopping || m_gather.count() <= 0) return false;
    const std::size_t enough = std::min<std::size_t>(m_batch_chunks, m_max_queued_chunks);
    if (m_queued_chunks >= enough) return false;
    return std::all_of(m_queue.begin(), m_queue.end(),
                       [](const WriteOp& op) { return op.is_chunk; });
}

void WriteQueue::run_batch(std::deque<WriteOp>& ops) {
    int rc = 0;
    {
        lmdb::Txn txn;
        rc = txn.begin(m_env, 0);
        if (rc == 0) {
            std::uint64_t bytes = 0;
            for (const auto& op : ops)
                bytes += op.bytes;
            // Room for the branch and leaf pages the batch touches, too.
            if (bytes > 0) m_growth.prepare(txn.get(), bytes + k_growth_margin);
            for (auto& op : ops) {
                rc = op.apply(txn.get());
                if (rc != 0) break;
            }
            if (rc == 0) {
                before_commit();
                rc = txn.commit();
                if (rc == 0) ++m_commits;
            }
        }
    }
    if (rc == 0) {
        for (auto& op : ops)
            op.done(0);
        return;
    }
    if (ops.size() == 1) {
        ops.front().done(rc);
        return;
    }
    // Replay one by one: only the operation that really fails (map full, disk full) fails.
    for (auto& op : ops) {
        lmdb::Txn txn;
        int one = txn.begin(m_env, 0);
        if (one == 0) one = op.apply(txn.get());
        if (one == 0) {
            before_commit();
            one = txn.commit();
            if (one == 0) ++m_commits;
        }
        txn.abort();
        op.done(one);
    }
}

void WriteQueue::before_commit() const {
    if (m_hooks.delay.count() > 0) std::this_thread::sleep_for(m_hooks.delay);
    if (m_hooks.gate.empty()) return;
    constexpr std::chrono::milliseconds k_poll{10};
    const auto give_up = std::chrono::steady_clock::now() + m_hooks.gate_timeout;
    std::error_code ec;  // a file that cannot be checked counts as gone
    while (std::filesystem::exists(m_hooks.gate, ec) && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(k_poll);
}

}  // namespace store
