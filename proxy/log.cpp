#include "proxy/log.hpp"

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace proxy {

namespace {

// A full batch wakes the flusher before k_access_flush has passed. At 80k requests a second
// (about 12 MB/s of lines) 256 KiB fill in about 20 ms: each wake-up of the flusher takes a turn
// of a core from a loop, so they should be few.
constexpr std::size_t k_batch_bytes = 256 * 1024;
// Access lines held while stderr does not take them; later ones are counted and dropped.
constexpr std::size_t k_max_pending = 8 * 1024 * 1024;

class Log {
  public:
    ~Log() {
        {
            const std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_one();
        if (m_flusher.joinable()) m_flusher.join();
        flush();
    }

    void line(std::string_view text) {
        append(text);
        flush();
    }

    // Never writes: the flusher does, so a request never waits for stderr (a full pipe, a
    // disk under writeback). Past k_max_pending the line is dropped and counted.
    void access(std::string_view text) {
        bool wake = false;
        {
            const std::lock_guard lock(m_mutex);
            if (m_pending.size() >= k_max_pending) {
                ++m_dropped;
                return;
            }
            wake = m_pending.empty();
            m_pending += text;
            m_pending += '\n';
            wake = wake || (m_pending.size() >= k_batch_bytes &&
                            m_pending.size() - text.size() - 1 < k_batch_bytes);
            if (!m_flusher.joinable()) m_flusher = std::thread([this] { run(); });
        }
        if (wake) m_wake.notify_one();
    }

  private:
    void append(std::string_view text) {
        const std::lock_guard lock(m_mutex);
        m_pending += text;
        m_pending += '\n';
    }

    // Writes what is pending, and how many access lines were dropped since the last write.
    // Batches are taken and written under m_write, so they reach stderr in the order they
    // were logged.
    void flush() {
        const std::lock_guard writing(m_write);
        // The two buffers trade places and keep their capacity, so lines are appended without
        // growing a fresh string for every batch.
        std::string& batch = m_writing;  // empty: every write below ends by clearing it
        {
            const std::lock_guard lock(m_mutex);
            batch.swap(m_pending);
            if (m_dropped > 0) {
                batch += "log: " + std::to_string(m_dropped) +
                         " access lines dropped: stderr did not take them\n";
                m_dropped = 0;
            }
        }
        if (batch.empty()) return;
        std::fwrite(batch.data(), 1, batch.size(), stderr);
        std::fflush(stderr);
        // A burst (up to k_max_pending) does not stay held: keep only a batch's worth.
        if (batch.capacity() > 2 * k_batch_bytes) batch = std::string();
        batch.clear();
    }

    // The flusher: once lines are pending, waits k_access_flush for more (or until a batch
    // is full), then writes them.
    void run() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_stop || !m_pending.empty(); });
            if (m_stop) return;
            m_wake.wait_for(lock, k_access_flush,
                            [this] { return m_stop || m_pending.size() >= k_batch_bytes; });
            lock.unlock();
            flush();
            lock.lock();
        }
    }

    std::mutex m_write;     // taken before m_mutex, never after; guards m_writing
    std::string m_writing;  // the batch being written
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::string m_pending;
    std::uint64_t m_dropped = 0;  // access lines dropped since the last write
    bool m_stop = false;
    std::thread m_flusher;
};

Log& log() {
    static Log instance;
    return instance;
}

}  // namespace

void log_line(std::string_view line) {
    log().line(line);
}

void log_access(std::string_view line) {
    log().access(line);
}

}  // namespace proxy
