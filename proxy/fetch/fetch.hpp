#pragma once
// One download of one blob, shared by every client that asked for it while it runs. The bytes
// go to an unlinked spool file as they arrive; each client reads the spool at its own offset and
// waits for more when it caught up, so a slow client holds back nobody and holds at most its
// own read buffer in memory.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "cache/evictor.hpp"
#include "proxy/fetch/spool_file.hpp"
#include "proxy/fetch/wake_list.hpp"
#include "store/digest.hpp"

namespace proxy::fetch {

namespace net = boost::asio;

enum class FetchState {
    starting,   // waiting for the upstream's answer
    streaming,  // bytes arriving
    complete,   // all bytes arrived and the digest matched
    failed,     // upstream error, broken stream or digest mismatch: clients must abort
};

struct FetchStatus {
    FetchState state = FetchState::starting;
    std::uint64_t written = 0;
    std::optional<std::uint64_t> size;  // from the upstream's Content-Length
    unsigned upstream_status = 0;       // the upstream's answer when it was not 200; 0: none
    std::string media_type;

    // Bytes a client may send now. Until the digest is verified the last byte of a blob of
    // known size is held back, so no client ever receives a complete body of a bad blob.
    std::uint64_t sendable() const;
    bool done() const { return state == FetchState::complete || state == FetchState::failed; }
};

class Fetch {
  public:
    Fetch(store::Digest digest, SpoolFile spool);

    const store::Digest& digest() const { return m_digest; }
    FetchStatus status() const;

    // Waits, on the caller's executor (which must be a strand or single-threaded), until more
    // than `offset` bytes are sendable or the fetch is done, and returns the status then.
    net::awaitable<FetchStatus> wait(std::uint64_t offset);

    // Reads spooled bytes; fewer than out.size() only past what was written.
    boost::system::result<std::size_t> read(std::uint64_t offset, std::span<char> out) const;

    // Room for the spool's bytes in the store's limits, held until the last client has let go
    // of this fetch (and so of the unlinked spool file).
    void hold_spool_room(cache::Evictor::Reservation room) { m_spool_room = std::move(room); }

    // Producer side, called by the download only.
    void start_streaming(std::optional<std::uint64_t> size, std::string media_type);
    boost::system::result<void> append(std::span<const char> bytes);
    void complete();
    void fail(unsigned upstream_status);

  private:
    const store::Digest m_digest;
    SpoolFile m_spool;
    cache::Evictor::Reservation m_spool_room;  // set once, before streaming starts
    mutable std::mutex m_mutex;
    FetchStatus m_status;
    WakeList m_waiters;
};

}  // namespace proxy::fetch
