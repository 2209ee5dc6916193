#include "proxy/server/timed_socket.hpp"

#include <cassert>
#include <unistd.h>

namespace proxy::server {

namespace detail {

bool TimedSocketState::start(const std::shared_ptr<TimedSocketState>& self) {
    if (expired) return false;
    if (deadline != Clock::time_point::max()) {
        if (deadline <= Clock::now()) {
            expire();
            return false;
        }
        if (armed > deadline) arm(self);
    }
    ++pending;
    return true;
}

void TimedSocketState::arm(const std::shared_ptr<TimedSocketState>& self) {
    timer.expires_at(deadline);  // ends a wait armed later; its handler is ignored
    armed = deadline;
    timer.async_wait(
        [self, wait = ++generation](boost::system::error_code ec) { self->fired(self, ec, wait); });
}

void TimedSocketState::fired(const std::shared_ptr<TimedSocketState>& self,
                             boost::system::error_code ec, std::uint64_t of) {
    if (of != generation) return;  // armed again since; that wait decides
    armed = Clock::time_point::max();
    if (ec || detached || pending == 0) return;  // the next operation arms it again
    if (deadline <= Clock::now())
        expire();
    else
        arm(self);
}

void TimedSocketState::expire() {
    expired = true;
    boost::system::error_code ignored;
    socket.close(ignored);
}

}  // namespace detail

boost::system::result<boost::asio::ip::tcp::socket> move_socket(
    boost::asio::ip::tcp::socket& socket, const boost::asio::any_io_executor& executor) {
    boost::system::error_code ec;
    const auto local = socket.local_endpoint(ec);
    if (ec) return ec;
    const int fd = socket.release(ec);
    if (ec) return ec;
    boost::asio::ip::tcp::socket moved(executor);
    moved.assign(local.protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        return ec;
    }
    return moved;
}

boost::system::error_code TimedSocket::rehome(const executor_type& executor) {
    assert(m_state->pending == 0);
    auto moved = move_socket(m_state->socket, executor);
    if (!moved) return moved.error();
    auto next = std::make_shared<detail::TimedSocketState>(std::move(*moved));
    next->deadline = m_state->deadline;
    // The old state's watchdog, if armed, ends on the old executor and finds it detached.
    m_state->detached = true;
    m_state->timer.cancel();
    m_state = std::move(next);
    return {};
}

TimedSocket::~TimedSocket() {
    m_state->detached = true;
    m_state->timer.cancel();
}

}  // namespace proxy::server
