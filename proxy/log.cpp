#include "proxy/log.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace proxy {

namespace {

constexpr std::size_t k_batch_bytes = 32 * 1024;

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

    void access(std::string_view text) {
        bool first = false;
        bool full = false;
        {
            const std::lock_guard lock(m_mutex);
            first = m_pending.empty();
            m_pending += text;
            m_pending += '\n';
            full = m_pending.size() >= k_batch_bytes;
            if (!m_flusher.joinable()) m_flusher = std::thread([this] { run(); });
        }
        if (full)
            flush();
        else if (first)
            m_wake.notify_one();
    }

  private:
    void append(std::string_view text) {
        const std::lock_guard lock(m_mutex);
        m_pending += text;
        m_pending += '\n';
    }

    // Writes what is pending. Batches are taken and written under m_write, so they reach
    // stderr in the order they were logged.
    void flush() {
        const std::lock_guard writing(m_write);
        std::string batch;
        {
            const std::lock_guard lock(m_mutex);
            batch.swap(m_pending);
        }
        if (batch.empty()) return;
        std::fwrite(batch.data(), 1, batch.size(), stderr);
        std::fflush(stderr);
    }

    // The flusher: once lines are pending, waits k_access_flush for more, then writes them.
    void run() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_stop || !m_pending.empty(); });
            if (m_stop) return;
            m_wake.wait_for(lock, k_access_flush, [this] { return m_stop; });
            lock.unlock();
            flush();
            lock.lock();
        }
    }

    std::mutex m_write;  // taken before m_mutex, never after
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::string m_pending;
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
