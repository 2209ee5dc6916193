#include "proxy/fetch/fetch.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>

#include <boost/asio/this_coro.hpp>

namespace proxy::fetch {

namespace {

// Pieces kept for reuse (4 MiB): reading into a used piece saves faulting in fresh pages. The
// tail can hold more (what the store has not committed), but pieces leave it a commit at a time.
constexpr std::size_t k_spare_pieces = 16;

// Whether the caller's `p` is held by nobody else; if so, the other holders' last uses (on their
// threads) happen before the caller's next one.
template <class T>
bool held_alone(const std::shared_ptr<T>& p) {
    if (p.use_count() != 1) return false;
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
}

}  // namespace

std::uint64_t FetchStatus::sendable() const {
    if (state == FetchState::complete) return written;
    if (state != FetchState::streaming) return 0;
    if (size && *size > 0 && written >= *size) return *size - 1;
    return written;
}

// ---- WrittenChunks --------------------------------------------------------------------------

void WrittenChunks::add(const store::WrittenChunk& chunk) {
    const std::lock_guard lock(m_mutex);
    // In order, and every chunk but the last whole: anything else is not this download's.
    if (chunk.index != m_chunks.size() || m_bytes % store::k_chunk_size != 0) return;
    m_chunks.push_back(chunk);
    m_bytes += chunk.size;
}

std::uint64_t WrittenChunks::bytes() const {
    const std::lock_guard lock(m_mutex);
    return m_bytes;
}

std::optional<store::WrittenChunk> WrittenChunks::find(std::uint64_t offset) const {
    const std::lock_guard lock(m_mutex);
    if (offset >= m_bytes) return std::nullopt;
    return m_chunks[static_cast<std::size_t>(offset / store::k_chunk_size)];
}

std::vector<store::WrittenChunk> WrittenChunks::all() const {
    const std::lock_guard lock(m_mutex);
    return m_chunks;
}

// ---- Fetch ----------------------------------------------------------------------------------

Fetch::Fetch(store::Digest digest, std::filesystem::path spool_dir, cache::Cache& cache)
    : m_digest(digest), m_cache(cache), m_spool_dir(std::move(spool_dir)) {}

boost::system::result<void> Fetch::open_spool() {
    if (m_spool) return {};
    auto spool = SpoolFile::create(m_spool_dir);
    if (!spool) return spool.error();
    m_spool.emplace(std::move(*spool));
    return {};
}

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

std::uint64_t Fetch::bytes_in_memory() const {
    const std::lock_guard lock(m_mutex);
    std::uint64_t bytes = 0;
    for (const auto& piece : m_tail)
        bytes += piece->size;
    return bytes;
}

boost::system::result<std::span<const char>> Fetch::read(std::uint64_t offset, std::size_t max,
                                                         Cursor& cursor) const {
    std::optional<store::WrittenChunk> chunk;
    {
        const std::lock_guard lock(m_mutex);
        if (offset >= m_status.written || max == 0) return std::span<const char>();
        max = static_cast<std::size_t>(std::min<std::uint64_t>(max, m_status.written - offset));
        if (!m_spooled) {
            chunk = m_written->find(offset);
            if (!chunk) {
                // Not in the store yet, so still in the tail: pieces leave it only once the
                // store holds them.
                const auto after = std::upper_bound(
                    m_tail.begin(), m_tail.end(), offset,
                    [](std::uint64_t at, const auto& piece) { return at < piece->offset; });
                if (after == m_tail.begin())
                    return boost::system::errc::make_error_code(boost::system::errc::io_error);
                cursor.m_chunk.reset();
                cursor.m_piece = *std::prev(after);
                const Piece& piece = *cursor.m_piece;
                const auto from = static_cast<std::size_t>(offset - piece.offset);
                if (from >= piece.size)
                    return boost::system::errc::make_error_code(boost::system::errc::io_error);
                return piece.view().subspan(from, std::min(max, piece.size - from));
            }
            if (!cursor.holds(chunk->index) && m_recent && m_recent->index == chunk->index)
                cursor.m_chunk = m_recent;
        }
    }
    cursor.m_piece.reset();
    if (chunk && !cursor.holds(chunk->index)) {
        cursor.m_chunk.reset();
        std::shared_ptr<DecodedChunk> decoded;
        {
            const std::lock_guard lock(m_mutex);
            decoded = std::move(m_spare_chunk);
        }
        if (!decoded) decoded = std::make_shared<DecodedChunk>();
        decoded->index = chunk->index;
        const auto read = m_cache.read_written_chunk(m_digest, *chunk, decoded->bytes);
        const std::lock_guard lock(m_mutex);
        if (read) {
            if (!m_spooled) {
                // The one it replaces is reused for the next decode once nobody reads it.
                auto replaced =
                    std::const_pointer_cast<DecodedChunk>(std::exchange(m_recent, decoded));
                if (replaced && !m_spare_chunk && held_alone(replaced))
                    m_spare_chunk = std::move(replaced);
            }
            cursor.m_chunk = std::move(decoded);
        } else if (m_spooled) {
            // The store dropped out meanwhile: its chunks went after they were copied to the
            // spool, which has every written byte now.
            chunk.reset();
        } else {
            return read.error();
        }
    }
    if (chunk) {
        const store::ChunkBuffer& bytes = cursor.m_chunk->bytes;
        const std::uint64_t start = std::uint64_t{chunk->index} * store::k_chunk_size;
        const auto from = static_cast<std::size_t>(offset - start);
        if (from >= bytes.size())
            return boost::system::errc::make_error_code(boost::system::errc::io_error);
        return bytes.span().subspan(from, std::min(max, bytes.size() - from));
    }
    // Spooled: the file holds every written byte, and only the download writes it.
    cursor.m_chunk.reset();
    cursor.m_buffer.resize(std::max(cursor.m_buffer.size(), max));
    auto read = m_spool->read_at(offset, std::span<char>(cursor.m_buffer.data(), max));
    if (!read) return read.error();
    return std::span<const char>(cursor.m_buffer.data(), *read);
}

void Fetch::start_streaming(std::optional<std::uint64_t> size, std::string media_type,
                            bool to_store) {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::streaming;
        m_status.size = size;
        m_status.media_type = std::move(media_type);
        assert(to_store || m_spool);  // open_spool() comes first
        m_spooled = !to_store;
        waiters = m_waiters.take();
    }
    waiters.wake();
}

std::function<void(const store::WrittenChunk&)> Fetch::chunk_listener() const {
    return [written = m_written](const store::WrittenChunk& chunk) { written->add(chunk); };
}

std::shared_ptr<Piece> Fetch::next_piece(std::shared_ptr<Piece> last) {
    if (last && held_alone(last)) {
        last->size = 0;
        return last;
    }
    {
        const std::lock_guard lock(m_mutex);
        if (!m_spares.empty()) {
            auto spare = std::move(m_spares.back());
            m_spares.pop_back();
            spare->size = 0;
            return spare;
        }
    }
    return std::make_shared<Piece>();
}

boost::system::result<void> Fetch::append(std::shared_ptr<Piece> piece) {
    std::uint64_t offset = 0;
    bool spooled = false;
    {
        const std::lock_guard lock(m_mutex);
        offset = m_status.written;
        spooled = m_spooled;
    }
    piece->offset = offset;
    const std::size_t size = piece->size;
    // Only the download writes, so the offset cannot move under us; readers never read past
    // `written`, so they never see a half-written piece.
    if (spooled) {
        if (auto written = m_spool->write_at(offset, piece->view()); !written) return written;
    }
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        if (!m_spooled) {
            // Pieces the store holds by now leave the tail; unread ones are kept for reuse.
            const std::uint64_t stored = m_written->bytes();
            while (!m_tail.empty() && m_tail.front()->offset + m_tail.front()->size <= stored) {
                auto done = std::const_pointer_cast<Piece>(std::move(m_tail.front()));
                m_tail.pop_front();
                if (m_spares.size() < k_spare_pieces && held_alone(done))
                    m_spares.push_back(std::move(done));
            }
            m_tail.push_back(std::move(piece));
        }
        m_status.written = offset + size;
        waiters = m_waiters.take();
    }
    waiters.wake();
    return {};
}

boost::system::result<void> Fetch::move_to_spool() {
    std::deque<std::shared_ptr<const Piece>> tail;
    {
        const std::lock_guard lock(m_mutex);
        if (m_spooled) return {};
        tail = m_tail;
    }
    if (auto opened = open_spool(); !opened) return opened;
    // Nothing is appended meanwhile (only the download appends, and it is here), so the store's
    // chunks and the tail cover every written byte; where they overlap, the bytes are equal.
    store::ChunkBuffer chunk;
    for (const auto& written : m_written->all()) {
        if (auto read = m_cache.read_written_chunk(m_digest, written, chunk); !read)
            return read.error();
        const std::uint64_t start = std::uint64_t{written.index} * store::k_chunk_size;
        if (auto copied = m_spool->write_at(start, chunk.span()); !copied) return copied;
    }
    for (const auto& piece : tail)
        if (auto copied = m_spool->write_at(piece->offset, piece->view()); !copied) return copied;
    const std::lock_guard lock(m_mutex);
    m_spooled = true;
    m_tail.clear();
    m_recent.reset();
    m_spare_chunk.reset();
    return {};
}

void Fetch::complete() {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::complete;
        // The store holds every byte now (its commit waited for them): slow clients that keep
        // this fetch alive read from there, not from pieces kept in memory.
        if (!m_spooled && m_written->bytes() == m_status.written) m_tail.clear();
        waiters = m_waiters.take();
    }
    waiters.wake();
}

void Fetch::fail(unsigned upstream_status) {
    set_failed(upstream_status, false);
}

void Fetch::fail_to_spool() {
    set_failed(0, true);
}

void Fetch::set_failed(unsigned upstream_status, bool spool_failed) {
    WakeList waiters;
    {
        const std::lock_guard lock(m_mutex);
        m_status.state = FetchState::failed;
        m_status.upstream_status = upstream_status;
        m_status.spool_failed = spool_failed;
        waiters = m_waiters.take();
    }
    waiters.wake();
}

}  // namespace proxy::fetch
