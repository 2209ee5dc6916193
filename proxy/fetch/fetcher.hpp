#pragma once
// Single flight: at most one upstream download per digest, however many clients ask. The first
// request starts it; later ones join it and read from byte 0. The blob becomes visible in the
// store only after its digest matched. Also runs the background prefetch queue.

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/result.hpp>

#include "cache/cache.hpp"
#include "proxy/fetch/fetch.hpp"
#include "proxy/metrics.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::fetch {

// Where to download a blob from.
struct Source {
    upstream::Client* client = nullptr;
    std::size_t upstream_index = 0;  // for per-upstream metrics
    std::string repo;                // repository on that upstream, e.g. "library/alpine"
    // A passthrough upstream: the Authorization of the caller who asked for it (see
    // upstream::Request::caller_authorization).
    std::optional<std::string> caller_authorization = std::nullopt;
};

struct Joined {
    std::shared_ptr<Fetch> fetch;  // nullptr: the blob is complete in the store by now
    bool coalesced = false;        // joined a download already running
};

class Fetcher {
  public:
    struct Options {
        std::filesystem::path spool_dir;
        std::size_t prefetch_concurrency = 2;
        std::size_t prefetch_queue = 1024;  // further prefetch requests are dropped
    };

    // Downloads run on strands of `executor` and are owned by the fetcher: shutdown() cancels
    // and awaits them; destroy the fetcher only after it returned true.
    Fetcher(net::any_io_executor executor, cache::Cache& cache, Metrics& metrics, Options options);

    // Joins the download of `digest`, starting it from `source` if none runs.
    boost::system::result<Joined> join(const store::Digest& digest, const Source& source);

    // Queues a background download of `digest` unless it is stored or already running.
    void prefetch(const store::Digest& digest, Source source);

    // Runs `task` in the background, owned by the fetcher like a download (shutdown cancels and
    // awaits it). Returns false, and drops it, once shutdown has begun.
    bool run_background(net::awaitable<void> task);

    // Cancels every download and prefetch and waits, up to `limit`, until they have ended (their
    // clients get an error). Later joins and prefetches are refused. Returns whether all ended.
    net::awaitable<bool> shutdown(std::chrono::milliseconds limit);

    std::size_t in_flight() const;

  private:
    // A download or prefetch worker that runs now, and how to cancel it.
    struct Task {
        net::any_io_executor strand;
        std::shared_ptr<net::cancellation_signal> cancel;
    };

    net::awaitable<void> download(std::shared_ptr<Fetch> fetch, Source source);
    net::awaitable<void> prefetch_worker();
    void finish(const std::shared_ptr<Fetch>& fetch);
    // Runs `task` on a new strand, owned by the fetcher until it ends.
    void spawn(net::awaitable<void> task);

    net::any_io_executor m_executor;
    cache::Cache& m_cache;
    Metrics& m_metrics;
    Options m_options;

    mutable std::mutex m_mutex;
    std::unordered_map<store::Digest, std::shared_ptr<Fetch>, store::DigestHash> m_running;
    std::deque<std::pair<store::Digest, Source>> m_prefetch_queue;
    std::size_t m_prefetch_workers = 0;
    std::uint64_t m_next_task = 0;
    std::unordered_map<std::uint64_t, Task> m_tasks;
    bool m_stopping = false;
};

}  // namespace proxy::fetch
