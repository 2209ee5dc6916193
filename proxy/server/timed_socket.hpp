#pragma once
// A TCP socket whose reads and writes are bounded by a deadline, as beast::tcp_stream's are,
// with one timer per connection instead of one timer wait (and its cancellation) per read and
// per write.
//
// expires_after() sets the deadline for the operations that follow it; it costs a clock read.
// An operation started after the deadline completes with beast::error::timeout at once. An
// operation still pending when the deadline passes is ended: the socket is closed, as Beast
// closes it, and the operation completes with beast::error::timeout. While no operation is
// pending a passed deadline does nothing (a handler may wait on an upstream for longer than a
// write timeout, as it may with Beast).
//
// The watchdog is a timer armed at the deadline when an operation starts and nothing earlier
// is armed. When it fires with the deadline moved on, it is armed again at the new one. A
// connection whose deadlines only move forward arms its timer once per timeout period, not
// once per operation.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace proxy::server {

namespace detail {

// What the socket's operations and its watchdog share. The watchdog's pending wait holds it,
// so it outlives a TimedSocket destroyed while the timer is armed.
struct TimedSocketState {
    using Clock = std::chrono::steady_clock;

    explicit TimedSocketState(boost::asio::ip::tcp::socket s)
        : socket(std::move(s)), timer(socket.get_executor()) {}

    // Whether an operation may start; false when the deadline has passed (the socket is then
    // closed). Counts the operation as pending and arms the watchdog when it must.
    bool start(const std::shared_ptr<TimedSocketState>& self);
    // The watchdog's wait ended.
    void fired(const std::shared_ptr<TimedSocketState>& self, boost::system::error_code ec,
               std::uint64_t generation);
    void arm(const std::shared_ptr<TimedSocketState>& self);
    void expire();

    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point armed = Clock::time_point::max();  // the watchdog's expiry, max if idle
    std::uint64_t generation = 0;  // of the watchdog's current wait; an older one's is ignored
    unsigned pending = 0;          // reads and writes in flight
    bool expired = false;          // the deadline passed during an operation: socket closed
    bool detached = false;         // the TimedSocket is gone
};

// A read's or write's handler: counts the operation done and reports a closed-by-deadline
// socket as a timeout. Every association (executor, allocator, cancellation slot) is the
// wrapped handler's.
template <class Handler>
struct TimedCompletion {
    Handler handler;
    TimedSocketState* state;

    template <class... Result>
    void operator()(boost::system::error_code ec, Result... result) {
        --state->pending;
        if (ec && state->expired) ec = boost::beast::error::timeout;
        std::move(handler)(ec, result...);
    }
};

}  // namespace detail

// Moves `socket`'s descriptor to a new socket on `executor` (another io_context's), with no
// operation pending on it. On failure `socket` is still open (the descriptor could not be
// released) or closed (it could not be registered on `executor`).
boost::system::result<boost::asio::ip::tcp::socket> move_socket(
    boost::asio::ip::tcp::socket& socket, const boost::asio::any_io_executor& executor);

class TimedSocket {
  public:
    using executor_type = boost::asio::any_io_executor;
    using Clock = detail::TimedSocketState::Clock;

    explicit TimedSocket(boost::asio::ip::tcp::socket socket)
        : m_state(std::make_shared<detail::TimedSocketState>(std::move(socket))) {}
    TimedSocket(const TimedSocket&) = delete;
    TimedSocket& operator=(const TimedSocket&) = delete;
    ~TimedSocket();

    executor_type get_executor() { return m_state->socket.get_executor(); }
    boost::asio::ip::tcp::socket& socket() { return m_state->socket; }

    // The deadline of the reads, writes and waits that follow.
    void expires_after(Clock::duration timeout) { m_state->deadline = Clock::now() + timeout; }
    void expires_at(Clock::time_point deadline) { m_state->deadline = deadline; }
    // Moves the socket to `executor` (another loop's), keeping its deadline; the operations
    // that follow complete there. Only with no operation pending. On failure the socket is
    // still open where it was (it could not leave), or closed (it could not arrive).
    boost::system::error_code rehome(const executor_type& executor);
    // Ends the pending operations (operation_aborted); the socket stays open.
    void cancel() {
        boost::system::error_code ignored;
        m_state->socket.cancel(ignored);
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return initiate<void(boost::system::error_code, std::size_t)>(
            token,
            [](auto& socket, const auto& b, auto done) {
                socket.async_read_some(b, std::move(done));
            },
            buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return initiate<void(boost::system::error_code, std::size_t)>(
            token,
            [](auto& socket, const auto& b, auto done) {
                socket.async_write_some(b, std::move(done));
            },
            buffers);
    }

    // Waits until the socket is ready to read or write (for writes of its own, such as
    // sendfile), within the deadline.
    template <class Token>
    auto async_wait(boost::asio::socket_base::wait_type what, Token&& token) {
        return initiate<void(boost::system::error_code)>(
            token, [](auto& socket, auto w, auto done) { socket.async_wait(w, std::move(done)); },
            what);
    }

  private:
    // Starts `operate(socket, args..., completion)` if the deadline allows, else completes
    // with beast::error::timeout (and no bytes), never inside this call.
    template <class Signature, class Token, class Operate, class... Args>
    auto initiate(Token& token, Operate operate, const Args&... args) {
        return boost::asio::async_initiate<Token, Signature>(
            [this, operate](auto handler, const Args&... a) {
                using Handler = decltype(handler);
                if (!m_state->start(m_state)) {
                    const boost::system::error_code timeout = boost::beast::error::timeout;
                    if constexpr (std::is_same_v<Signature, void(boost::system::error_code)>)
                        boost::asio::post(get_executor(),
                                          boost::asio::append(std::move(handler), timeout));
                    else
                        boost::asio::post(
                            get_executor(),
                            boost::asio::append(std::move(handler), timeout, std::size_t{0}));
                    return;
                }
                operate(m_state->socket, a...,
                        detail::TimedCompletion<Handler>{std::move(handler), m_state.get()});
            },
            token, args...);
    }

    std::shared_ptr<detail::TimedSocketState> m_state;
};

}  // namespace proxy::server

template <template <typename, typename> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, proxy::server::detail::TimedCompletion<Handler>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const proxy::server::detail::TimedCompletion<Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }
    static auto get(const proxy::server::detail::TimedCompletion<Handler>& h,
                    const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};
