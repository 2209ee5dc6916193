#include "proxy/fetch/fetcher.hpp"

#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/log.hpp"
#include "store/errors.hpp"
#include "store/sha256.hpp"

namespace proxy::fetch {

namespace http = boost::beast::http;

namespace {

// Logs a coroutine that ended by an exception (a programmer error: the request path is
// exception-free) instead of losing it or terminating.
void report(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log_line(std::string("fetch: unexpected exception: ") + ex.what());
    }
}

}  // namespace

Fetcher::Fetcher(net::any_io_executor executor, cache::Cache& cache, Metrics& metrics,
                 Options options)
    : m_executor(std::move(executor)),
      m_cache(cache),
      m_metrics(metrics),
      m_options(std::move(options)) {}

std::size_t Fetcher::in_flight() const {
    const std::lock_guard lock(m_mutex);
    return m_running.size();
}

boost::system::result<Joined> Fetcher::join(const store::Digest& digest, const Source& source) {
    std::shared_ptr<Fetch> fetch;
    {
        const std::lock_guard lock(m_mutex);
        if (const auto it = m_running.find(digest); it != m_running.end())
            return Joined{it->second, true};
        if (m_stopping) return make_error_code(boost::system::errc::operation_canceled);
        // A download may have committed between the caller's miss and this lock.
        if (const auto info = m_cache.stat(digest); info && info.value()) return Joined{};
        fetch = std::make_shared<Fetch>(digest, m_options.spool_dir, m_cache);
        m_running.emplace(digest, fetch);
    }
    spawn(download(fetch, source));
    return Joined{fetch, false};
}

bool Fetcher::run_background(net::awaitable<void> task) {
    {
        const std::lock_guard lock(m_mutex);
        if (m_stopping) return false;
    }
    spawn(std::move(task));
    return true;
}

void Fetcher::spawn(net::awaitable<void> task) {
    auto strand = net::make_strand(m_executor);
    auto cancel = std::make_shared<net::cancellation_signal>();
    std::uint64_t id = 0;
    {
        const std::lock_guard lock(m_mutex);
        id = m_next_task++;
        m_tasks.emplace(id, Task{strand, cancel});
    }
    net::co_spawn(strand, std::move(task),
                  net::bind_cancellation_slot(cancel->slot(), [this, id](std::exception_ptr e) {
                      report(e);
                      const std::lock_guard lock(m_mutex);
                      m_tasks.erase(id);
                  }));
}

net::awaitable<bool> Fetcher::shutdown(std::chrono::milliseconds limit) {
    {
        const std::lock_guard lock(m_mutex);
        m_stopping = true;
        m_prefetch_queue.clear();
        // Each signal is emitted on its task's strand, where the task runs.
        for (const auto& [id, task] : m_tasks)
            net::post(task.strand,
                      [cancel = task.cancel] { cancel->emit(net::cancellation_type::terminal); });
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        {
            const std::lock_guard lock(m_mutex);
            if (m_tasks.empty()) co_return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) co_return false;
        timer.expires_after(std::chrono::milliseconds(10));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
}

void Fetcher::finish(const std::shared_ptr<Fetch>& fetch) {
    const std::lock_guard lock(m_mutex);
    if (const auto it = m_running.find(fetch->digest());
        it != m_running.end() && it->second == fetch)
        m_running.erase(it);
}

namespace {

// Hashes the first `bytes` bytes the fetch holds into a fresh `hash`.
boost::system::result<void> hash_fetched(const Fetch& fetch, std::uint64_t bytes,
                                         store::Sha256& hash) {
    hash = store::Sha256();
    Fetch::Cursor cursor;
    for (std::uint64_t at = 0; at < bytes;) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(Piece::k_capacity, bytes - at));
        auto got = fetch.read(at, want, cursor);
        if (!got) return got.error();
        if (got->empty())
            return boost::system::errc::make_error_code(boost::system::errc::io_error);
        hash.update(*got);
        at += got->size();
    }
    return {};
}

// The store dropped out of a download after `bytes` bytes: the fetch moves to its spool before
// the store's writer goes (and with it what it wrote), the spool's bytes count against the
// store's limits, and the bytes so far are hashed from the spool into a fresh `hash`. Disk work
// the size of the blob: run it on the blob threads. The store's reservation must be gone first,
// or the spool's would be refused just when the store ran out of room; until the store's copy
// is removed (with its writer, next), the two copies are on disk and one is counted.
struct Dropped {
    std::string failure;    // empty: the download goes on into the spool
    bool no_spool = false;  // the failure: no spool could be made
};
Dropped drop_store(cache::Cache& cache, Fetch& fetch, std::optional<std::uint64_t> size,
                   std::uint64_t bytes, store::Sha256& hash) {
    if (auto opened = fetch.open_spool(); !opened)
        return {"cannot make a spool: " + opened.error().message(), true};
    if (auto moved = fetch.move_to_spool(); !moved)
        return {"spool write failed: " + moved.error().message()};
    if (size) fetch.hold_spool_room(cache.reserve_spool(*size));
    if (auto hashed = hash_fetched(fetch, bytes, hash); !hashed)
        return {"spool read failed: " + hashed.error().message()};
    return {};
}

}  // namespace

net::awaitable<void> Fetcher::download(std::shared_ptr<Fetch> fetch, Source source) {
    // Cancellation (shutdown) ends the operation awaited then with an error, which is handled
    // like any other: the clients are told and nothing is kept. It must not throw instead.
    co_await net::this_coro::throw_if_cancelled(false);
    const std::string digest = fetch->digest().str();
    const std::size_t up = source.upstream_index;
    upstream::Request request;
    request.method = http::verb::get;
    request.target = "/v2/" + source.repo + "/blobs/" + digest;
    request.scope = "repository:" + source.repo + ":pull";
    request.caller_authorization = source.caller_authorization;
    auto sent = co_await source.client->send(std::move(request));
    if (!sent) {
        m_metrics.add(up, &Counters::upstream_errors);
        log_line("fetch " + digest + ": upstream unreachable: " + sent.error().message());
        finish(fetch);
        fetch->fail(0);
        co_return;
    }
    upstream::Response& response = **sent;
    if (response.status() != 200) {
        if (response.status() != 404) m_metrics.add(up, &Counters::upstream_errors);
        finish(fetch);
        fetch->fail(response.status());
        co_return;
    }
    std::string media_type = "application/octet-stream";
    if (const auto it = response.headers().find(http::field::content_type);
        it != response.headers().end() && !it->value().empty())
        media_type = std::string(it->value());
    const std::optional<std::uint64_t> size = response.content_length();

    // The store is best effort: if it cannot take the blob, clients still get it via the spool.
    // Room is made first when the size is known; it is held until the commit, shrinking as the
    // blob is written.
    cache::Evictor::Reservation room;
    bool fits = true;
    if (size) {
        auto reserving = m_cache.reserve(*size);
        room = co_await std::move(reserving);
        fits = static_cast<bool>(room);
        if (!fits)
            log_line("fetch " + digest + ": " + std::to_string(*size) +
                     " bytes do not fit in the store even after eviction; streamed, not stored");
    }
    std::unique_ptr<cache::Writer> writer;
    if (fits) {
        auto beginning = m_cache.begin(fetch->digest(), media_type);
        auto begun = co_await std::move(beginning);
        if (begun) {
            writer = std::move(*begun);
        } else {
            m_metrics.add(up, &Counters::store_errors);
            log_line("fetch " + digest + ": store refused the blob: " + begun.error().message());
            room = {};
        }
    }
    const std::uint64_t uncommitted = m_cache.max_uncommitted_bytes();
    // Clients read the blob back from the store as it is written. Without the store, they read
    // a spool under storage.path, whose bytes count against max_size whenever they fit under it
    // (see Cache::reserve_spool).
    if (writer) {
        writer->on_chunk_written(fetch->chunk_listener());
    } else {
        auto opening = m_cache.on_blobs([&] { return fetch->open_spool(); });
        if (auto opened = co_await std::move(opening); !opened) {
            log_line("fetch " + digest + ": cannot make a spool under " +
                     m_options.spool_dir.string() + ": " + opened.error().message());
            finish(fetch);
            fetch->fail_to_spool();
            co_return;
        }
        if (size) fetch->hold_spool_room(m_cache.reserve_spool(*size));
    }
    fetch->start_streaming(size, media_type, writer != nullptr);

    // The digest is checked once: by the store writer while there is one (its commit fails on
    // a mismatch and keeps nothing), else here. If the writer drops out midway, the bytes it had
    // are hashed again from the spool and hashing goes on here.
    store::Sha256 hash;
    bool hashing = writer == nullptr;
    std::uint64_t total = 0;
    std::string failure;
    bool no_spool = false;  // the failure: the store dropped out and no spool could be made
    // Bytes are handed on in whole pieces (or at the end): each piece wakes every waiting
    // client and is one append to the store (a turn of a blob thread and back), so tiny
    // upstream reads must not become tiny pieces.
    std::shared_ptr<Piece> piece = fetch->next_piece(nullptr);
    bool end = false;
    while (!end) {
        // A cancellation that came while no cancellable operation was awaited (a store call on
        // the cache's threads) is seen here.
        if ((co_await net::this_coro::cancellation_state).cancelled() !=
            net::cancellation_type::none) {
            failure = "cancelled (shutting down)";
            break;
        }
        auto [ec, n] = co_await response.read_some(
            net::buffer(piece->bytes.get() + piece->size, Piece::k_capacity - piece->size));
        if (ec) {
            failure = "upstream stream broke: " + ec.message();
            break;
        }
        end = n == 0;
        piece->size += n;
        total += n;
        if (size && total > *size) {
            failure = "upstream sent more than its Content-Length";
            break;
        }
        if (piece->size < Piece::k_capacity && !end && !(size && total == *size)) continue;
        if (piece->size == 0) break;
        const std::size_t handed = piece->size;
        // Clients get the bytes first: from memory until the store holds them.
        if (auto appended = fetch->append(piece); !appended) {
            failure = "spool write failed: " + appended.error().message();
            break;
        }
        if (hashing) {
            hash.update(piece->view());
        } else {
            auto appending = writer->append(piece->view());
            if (auto appended = co_await std::move(appending); !appended) {
                m_metrics.add(up, &Counters::store_errors);
                log_line("fetch " + digest + ": store write failed: " + appended.error().message());
                hashing = true;
                room = {};
                auto dropping = m_cache.on_blobs(
                    [&] { return drop_store(m_cache, *fetch, size, total, hash); });
                const Dropped dropped = co_await std::move(dropping);
                failure = dropped.failure;
                no_spool = dropped.no_spool;
                if (!failure.empty()) break;
                writer.reset();
            }
        }
        if (room) room.shrink_to(*size - total + uncommitted);
        m_metrics.add(up, &Counters::bytes_from_upstream, handed);
        piece = fetch->next_piece(std::move(piece));
    }
    if (failure.empty() && size && total != *size) failure = "upstream body shorter than declared";
    bool verified = false;
    if (failure.empty() && writer) {
        auto committing = writer->commit();
        if (auto committed = co_await std::move(committing); committed) {
            verified = true;
        } else if (committed.error() != store::errc::digest_mismatch) {
            // Not stored, for a reason that says nothing about the bytes: check them here.
            m_metrics.add(up, &Counters::store_errors);
            log_line("fetch " + digest + ": commit failed: " + committed.error().message());
            hashing = true;
            room = {};
            auto dropping =
                m_cache.on_blobs([&] { return drop_store(m_cache, *fetch, size, total, hash); });
            const Dropped dropped = co_await std::move(dropping);
            failure = dropped.failure;
            no_spool = dropped.no_spool;
        }
    }
    if (failure.empty() && !verified && (!hashing || hash.finish() != fetch->digest())) {
        m_metrics.add(up, &Counters::digest_mismatch);
        failure = "digest mismatch: upstream sent other content";
    }
    if (!failure.empty()) {
        m_metrics.add(up, &Counters::upstream_errors);
        log_line("fetch " + digest + " from " + source.repo + ": " + failure + "; nothing stored");
        // The clients are cut off before the store's copy goes (with the writer), so none of
        // them finds it gone first.
        finish(fetch);
        if (no_spool) {
            fetch->fail_to_spool();
        } else {
            fetch->fail(0);
        }
        writer.reset();
        co_return;
    }
    writer.reset();
    finish(fetch);
    fetch->complete();
}

void Fetcher::prefetch(const store::Digest& digest, Source source) {
    bool start_worker = false;
    {
        const std::lock_guard lock(m_mutex);
        if (m_stopping || m_running.contains(digest)) return;
        if (m_prefetch_queue.size() >= m_options.prefetch_queue) return;
        m_prefetch_queue.emplace_back(digest, std::move(source));
        if (m_prefetch_workers < m_options.prefetch_concurrency) {
            ++m_prefetch_workers;
            start_worker = true;
        }
    }
    if (start_worker) spawn(prefetch_worker());
}

net::awaitable<void> Fetcher::prefetch_worker() {
    co_await net::this_coro::throw_if_cancelled(false);
    for (;;) {
        std::optional<std::pair<store::Digest, Source>> item;
        {
            const std::lock_guard lock(m_mutex);
            if (m_prefetch_queue.empty()) {
                --m_prefetch_workers;
                co_return;
            }
            item = std::move(m_prefetch_queue.front());
            m_prefetch_queue.pop_front();
        }
        const auto& [digest, source] = *item;
        if (const auto info = m_cache.stat(digest); info && info.value()) continue;
        auto joined = join(digest, source);
        if (!joined || !joined->fetch) continue;
        // Not cancelled with the worker: the download itself is, and its end wakes this wait.
        co_await joined->fetch->wait(std::numeric_limits<std::uint64_t>::max());
    }
}

}  // namespace proxy::fetch
