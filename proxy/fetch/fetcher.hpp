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

    // Room held in the store for one blob's write (the evictor's reservation behind it), until
    // the write is committed or abandoned.
    class Room {
      public:
        virtual ~Room() = default;
        // Holds no more than `bytes` from now on: what is written counts as used instead.
        virtual void shrink_to(std::uint64_t bytes) = 0;
    };
    using Reserve = std::function<std::unique_ptr<Room>(std::uint64_t bytes)>;
    // Asked before a blob of known size is written to the store, to make room for it. `now`
    // never blocks and returns nullptr when the blob does not fit without evicting; then
    // `evicting`, which may evict and so block, runs on `executor`, off the io threads. nullptr
    // from it: the blob cannot fit even after eviction, and is only streamed, never written.
    void set_reserve(Reserve now, Reserve evicting, net::any_io_executor executor) {
        m_reserve_now = std::move(now);
        m_reserve_evicting = std::move(evicting);
        m_reserve_executor = std::move(executor);
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
    Reserve m_reserve_now;
    Reserve m_reserve_evicting;
    net::any_io_executor m_reserve_executor;

    // Makes room for `bytes` (see set_reserve); nullptr if they cannot fit.
    net::awaitable<std::unique_ptr<Room>> reserve(std::uint64_t bytes);

    mutable std::mutex m_mutex;
    std::unordered_map<store::Digest, std::shared_ptr<Fetch>, store::DigestHash> m_running;
    std::deque<std::pair<store::Digest, Source>> m_prefetch_queue;
    std::size_t m_prefetch_workers = 0;
};

}  // namespace proxy::fetch
