#include "proxy/fetch/fetch.hpp"

#include <boost/asio/this_coro.hpp>

namespace proxy::fetch {

std::uint64_t FetchStatus::sendable() const {
    if (state == FetchState::complete) return written;
    if (state != FetchState::streaming) return 0;
    if (size && *size > 0 && written >= *size) return *size - 1;
    return written;
}

Fetch::Fetch(store::Digest digest, SpoolFile spool) : m_digest(digest), m_spool(std::move(spool)) {}

FetchStatus Fetch::status() const {
    const std::lock_guard lock(m_mutex);
    return m_status;
}

net::awaitable<FetchStatus> Fetch::wait(std::uint64_t offset) {
    const auto executor = co_await net::this_coro::executor;
    for (;;) {
        std::optional<WakeList::Waiting> waiting;
        {
            const std::lock_guard lock(m_mutex);
            if (m_status.done() || m_status.sendable() > offset) co_return m_status;
            waiting = m_waiters.add(executor);
        }
        co_await waiting->wait();
    }
}

boost::system::result<std::size_t> Fetch::read(std::uint64_t offset, std::span<char> out) const {
    return m_spool.read_at(offset, out);
}

void Fetch::start_streaming(std::optional<std::uint64_t> size, std::string media_type) {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::streaming;
        m_status.size = size;
        m_status.media_type = std::move(media_type);
        waiters = m_waiters.take();
    }
    waiters.wake();
}

boost::system::result<void> Fetch::append(std::span<const char> bytes) {
    std::uint64_t offset = 0;
    {
        const std::lock_guard lock(m_mutex);
        offset = m_status.written;
    }
    // Only the download writes, so the offset cannot move under us; readers never read past
    // `written`, so they never see a half-written piece.
    auto written = m_spool.write_at(offset, bytes);
    if (!written) return written;
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.written = offset + bytes.size();
        waiters = m_waiters.take();
    }
    waiters.wake();
    return {};
}

void Fetch::complete() {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::complete;
        waiters = m_waiters.take();
    }
    waiters.wake();
}

void Fetch::fail(unsigned upstream_status) {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::failed;
        m_status.upstream_status = upstream_status;
        waiters = m_waiters.take();
    }
    waiters.wake();
}

}  // namespace proxy::fetch
