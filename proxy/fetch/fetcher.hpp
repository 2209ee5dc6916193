#pragma once
// Single flight: at most one upstream download per digest, however many clients ask. The first
// request starts it; later ones join it and read from byte 0. The blob becomes visible in the
// store only after its digest matched. Also runs the background prefetch queue.

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "proxy/fetch/fetch.hpp"
#include "proxy/metrics.hpp"
#include "proxy/upstream/upstream_client.hpp"
#include "store/blob_store.hpp"

namespace proxy::fetch {

// Where to download a blob from.
struct Source {
    upstream::Client* client = nullptr;
    std::size_t upstream_index = 0;  // for per-upstream metrics
    std::string repo;                // repository on that upstream, e.g. "library/alpine"
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

    Fetcher(net::any_io_executor executor, store::BlobStore& store, Metrics& metrics,
            Options options);

    // Joins the download of `digest`, starting it from `source` if none runs.
    boost::system::result<Joined> join(const store::Digest& digest, const Source& source);

    // Queues a background download of `digest` unless it is stored or already running.
    void prefetch(const store::Digest& digest, Source source);

    // Called after a blob was committed to the store (the eviction accounting hook).
    void set_on_stored(std::function<void(const store::Digest&, std::uint64_t size)> fn) {
        m_on_stored = std::move(fn);
    }

    // Asked before a blob of known size is written to the store, to make room for it (the
    // evictor's reserve). It may block, so it runs on `executor`, off the io threads. It returns
    // a token held until the blob is committed or abandoned, or nullptr when the blob cannot fit
    // even after eviction: then it is only streamed to its clients, never written.
    using Reserve = std::function<std::shared_ptr<void>(std::uint64_t bytes)>;
    void set_reserve(net::any_io_executor executor, Reserve fn) {
        m_reserve_executor = std::move(executor);
        m_reserve = std::move(fn);
    }

    std::size_t in_flight() const;

  private:
    net::awaitable<void> download(std::shared_ptr<Fetch> fetch, Source source);
    net::awaitable<void> prefetch_worker();
    void finish(const std::shared_ptr<Fetch>& fetch);

    net::any_io_executor m_executor;
    store::BlobStore& m_store;
    Metrics& m_metrics;
    Options m_options;
    std::function<void(const store::Digest&, std::uint64_t)> m_on_stored;
    net::any_io_executor m_reserve_executor;
    Reserve m_reserve;

    mutable std::mutex m_mutex;
    std::unordered_map<store::Digest, std::shared_ptr<Fetch>, store::DigestHash> m_running;
    std::deque<std::pair<store::Digest, Source>> m_prefetch_queue;
    std::size_t m_prefetch_workers = 0;
};

}  // namespace proxy::fetch
