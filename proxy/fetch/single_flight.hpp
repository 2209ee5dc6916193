#pragma once
// Coalesces concurrent calls for the same key: the first caller runs the operation, the ones that
// ask while it runs wait for it and get a copy of its result. For small results (a manifest, the
// answer to a HEAD) where a burst of identical requests should cost the upstream one request;
// blobs have their own streaming Fetcher.

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/fetch/wake_list.hpp"

namespace proxy::fetch {

namespace net = boost::asio;

template <class T>
class SingleFlight {
  public:
    struct Outcome {
        T value;
        bool coalesced = false;  // true: another caller's operation produced it
    };

    // Runs `op` (a callable returning net::awaitable<T>) unless an operation for `key` is running,
    // in which case calls `on_join` and waits for that one, and returns a copy of its result. If
    // the running operation ends by an exception, the callers waiting on it run `op` themselves.
    // The caller's executor must be a strand or single-threaded. (Parameters are taken by value:
    // the coroutine starts when awaited, after the caller's temporaries are gone.)
    template <class Op, class OnJoin = void (*)()>
    net::awaitable<Outcome> run(
        std::string key, Op op, OnJoin on_join = [] {}) {
        std::shared_ptr<Flight> flight;
        bool leader = false;
        {
            const std::lock_guard lock(m_mutex);
            auto& slot = m_flights[key];
            if (!slot) {
                slot = std::make_shared<Flight>();
                leader = true;
            }
            flight = slot;
        }
        // (Each awaitable is a named local: GCC 12 mishandles temporaries awaited in a branch.)
        if (!leader) {
            on_join();
            auto waiting = wait(*flight);
            std::optional<T> shared = co_await std::move(waiting);
            if (shared) co_return Outcome{std::move(*shared), true};
            auto retry = op();
            T value = co_await std::move(retry);
            co_return Outcome{std::move(value), false};
        }
        std::optional<T> result;
        std::exception_ptr error;
        try {
            auto running = op();
            result.emplace(co_await std::move(running));
        } catch (...) {
            error = std::current_exception();
        }
        finish(key, *flight, result);
        if (error) std::rethrow_exception(error);
        co_return Outcome{std::move(*result), false};
    }

    // Operations running now (for tests and stats).
    std::size_t running() const {
        const std::lock_guard lock(m_mutex);
        return m_flights.size();
    }

  private:
    struct Flight {
        std::mutex mutex;
        bool done = false;
        std::optional<T> result;  // empty when the operation threw
        WakeList waiters;
    };

    void finish(const std::string& key, Flight& flight, const std::optional<T>& result) {
        {
            // New callers start their own operation from here on.
            const std::lock_guard lock(m_mutex);
            m_flights.erase(key);
        }
        WakeList waiters;
        {
            const std::lock_guard lock(flight.mutex);
            flight.done = true;
            flight.result = result;
            waiters = flight.waiters.take();
        }
        waiters.wake();
    }

    // The flight's result once it is done; empty if its operation threw.
    static net::awaitable<std::optional<T>> wait(Flight& flight) {
        const auto executor = co_await net::this_coro::executor;
        for (;;) {
            std::optional<WakeList::Waiting> waiting;
            {
                const std::lock_guard lock(flight.mutex);
                if (flight.done) co_return flight.result;
                waiting = flight.waiters.add(executor);
            }
            co_await waiting->wait();
        }
    }

    mutable std::mutex m_mutex;
    std::unordered_map<std::string, std::shared_ptr<Flight>> m_flights;
};

}  // namespace proxy::fetch
