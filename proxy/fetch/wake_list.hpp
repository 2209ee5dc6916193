#pragma once
// Coroutines waiting for a change that another thread makes (a timer used as a condition
// variable). The owner keeps a WakeList under its own mutex: a waiter checks its condition and
// calls add() with that mutex held, then awaits the returned wait without it; whoever changes
// the state takes() the list under the mutex and wakes() it after releasing the mutex. A wake-up
// is posted to the waiter's own executor, so it runs after that waiter's wait began: none is
// lost. A woken waiter checks its condition again.

#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace proxy::fetch {

namespace net = boost::asio;

class WakeList {
  public:
    class Waiting {
      public:
        // Returns when woken (or when the awaiting coroutine is cancelled).
        net::awaitable<void> wait() {
            std::ignore = co_await m_timer->async_wait(net::as_tuple(net::use_awaitable));
        }

      private:
        friend class WakeList;
        explicit Waiting(std::shared_ptr<net::steady_timer> timer) : m_timer(std::move(timer)) {}
        std::shared_ptr<net::steady_timer> m_timer;
    };

    // With the owner's mutex held: registers a waiter on `executor` (the caller's).
    Waiting add(const net::any_io_executor& executor) {
        auto timer =
            std::make_shared<net::steady_timer>(executor, net::steady_timer::time_point::max());
        m_waiters.push_back({executor, timer});
        return Waiting(std::move(timer));
    }

    // With the owner's mutex held: everyone waiting now, to wake() after releasing it.
    WakeList take() {
        WakeList taken;
        taken.m_waiters.swap(m_waiters);
        return taken;
    }

    // Without the owner's mutex: wakes everyone in this list.
    void wake() {
        for (auto& w : m_waiters)
            net::post(w.executor, [timer = std::move(w.timer)] { timer->cancel(); });
        m_waiters.clear();
    }

  private:
    struct Waiter {
        net::any_io_executor executor;
        std::shared_ptr<net::steady_timer> timer;
    };
    std::vector<Waiter> m_waiters;
};

}  // namespace proxy::fetch
