#pragma once
// A client connection, plain TCP or TLS over it: the stream Beast's HTTP reads and writes take,
// with the TCP layer's deadline and socket beside it (a TimedSocket). Which one is fixed at
// construction; each read and write costs one branch more than the bare TimedSocket.
//
// TLS is a TlsChannel (an OpenSSL session over a memory BIO pair) driven by the operations
// below, which move its encrypted bytes to and from the socket through the TCP layer (so its
// deadline bounds them). A write encrypts up to TlsChannel::k_max_write bytes and sends their
// records in one socket write; asio's SSL stream sends each 16 KiB record with a write and a
// completion of its own.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include "proxy/server/timed_socket.hpp"
#include "proxy/server/tls_channel.hpp"

namespace proxy::server {

namespace detail {

// Runs one TlsChannel operation (`step`) to its end: sends what the channel has to send,
// reads what it needs from the socket, and calls the step again, until it is done or failed.
// Completes with the step's result, never inside the call that started it.
template <class StepFn>
struct TlsOperation {
    TlsChannel& channel;
    TimedSocket& tcp;
    StepFn step;
    enum class State { start, sending, receiving, finishing } state = State::start;
    bool finished = false;   // the step is done or failed; what it left to send goes out first
    bool suspended = false;  // an asynchronous operation was started: completing is not inline
    TlsChannel::Step last{};

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
        namespace net = boost::asio;
        switch (state) {
            case State::start:
                break;
            case State::sending:
                channel.writing = false;
                if (ec) return self.complete(ec, 0);
                channel.sent(n);
                break;
            case State::receiving:
                channel.reading = false;
                if (ec)
                    return self.complete(
                        ec == net::error::eof ? net::ssl::error::stream_truncated : ec, 0);
                channel.received(n);
                break;
            case State::finishing:
                return self.complete(last.error,
                                     last.need == TlsChannel::Need::failed ? 0 : last.bytes);
        }
        if (!finished) {
            last = step();
            finished =
                last.need == TlsChannel::Need::nothing || last.need == TlsChannel::Need::failed;
        }
        if (const auto out = channel.pending_output(); !out.empty() && !channel.writing) {
            channel.writing = true;
            state = State::sending;
            suspended = true;
            net::async_write(tcp, net::buffer(out.data(), out.size()), std::move(self));
            return;
        }
        if (finished) {
            state = State::finishing;
            if (suspended) return (*this)(self);
            suspended = true;
            net::post(tcp.get_executor(), std::move(self));
            return;
        }
        // Input, then. The connection runs one operation each way at a time, and neither
        // needs the other's direction while it is busy: should one, it fails rather than
        // wait on the socket beside the other (a write would wait for bytes the client need
        // not send; two reads would fill the same room).
        const auto room = channel.input_room();
        if (last.need == TlsChannel::Need::output || channel.reading || room.empty()) {
            last = {TlsChannel::Need::failed, 0,
                    room.empty() ? net::error::no_buffer_space : net::error::in_progress};
            finished = true;
            state = State::start;
            return (*this)(self);
        }
        channel.reading = true;
        state = State::receiving;
        suspended = true;
        tcp.async_read_some(net::buffer(room.data(), room.size()), std::move(self));
    }
};

}  // namespace detail

class Stream {
  public:
    using executor_type = TimedSocket::executor_type;

    // TLS when `tls` is set (handshake() comes first), plain TCP otherwise. The connection
    // keeps `tls` alive, so that a new context (a reloaded certificate) leaves it untouched.
    Stream(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls);
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    executor_type get_executor() { return m_tcp.get_executor(); }
    bool is_tls() const { return m_tls != nullptr; }

    // The TCP layer (under TLS, its next layer): deadlines, cancellation and the socket.
    TimedSocket& tcp() { return m_tcp; }
    void expires_after(std::chrono::steady_clock::duration timeout) {
        m_tcp.expires_after(timeout);
    }
    void cancel() { m_tcp.cancel(); }
    // Moves the connection to `executor` (another loop's) between operations; TLS state stays.
    boost::system::error_code rehome(const executor_type& executor) {
        return m_tcp.rehome(executor);
    }
    boost::asio::ip::tcp::socket& socket() { return m_tcp.socket(); }

    // The server side of the TLS handshake, within the deadline set before it.
    boost::asio::awaitable<boost::system::error_code> handshake();
    // Sends TLS close_notify and waits for the peer's within the deadline set before it.
    boost::asio::awaitable<void> shutdown();
    // The verified client certificate's subject CN, then its SANs (DNS names, emails, URIs and
    // IP addresses, in the certificate's order); empty without a verified certificate.
    std::vector<std::string> peer_certificate_names();

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (!m_tls) {
                    m_tcp.async_read_some(b, std::move(handler));
                    return;
                }
                const boost::asio::mutable_buffer first = first_buffer(b);
                run_tls(
                    [this, first] {
                        return m_tls->read({static_cast<char*>(first.data()), first.size()});
                    },
                    std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (!m_tls) {
                    m_tcp.async_write_some(b, std::move(handler));
                    return;
                }
                // Several buffers (a head and a body piece) become records of one socket write.
                run_tls(
                    [this, pieces = WritePieces(b), index = std::size_t{0},
                     total = std::size_t{0}]() mutable {
                        for (; index < pieces.count; ++index) {
                            const TlsChannel::Step step = m_tls->write(pieces.bytes[index]);
                            if (step.need != TlsChannel::Need::nothing) return step;
                            total += pieces.bytes[index].size();
                        }
                        return TlsChannel::Step{TlsChannel::Need::nothing, total, {}};
                    },
                    std::move(handler));
            },
            token, buffers);
    }

  private:
    // The non-empty buffers of a write, up to four and TlsChannel::k_max_write bytes in all.
    struct WritePieces {
        template <class ConstBuffers>
        explicit WritePieces(const ConstBuffers& buffers) {
            std::size_t room = TlsChannel::k_max_write;
            for (auto it = boost::asio::buffer_sequence_begin(buffers);
                 it != boost::asio::buffer_sequence_end(buffers) && count < bytes.size() && room;
                 ++it) {
                const boost::asio::const_buffer piece = *it;
                const std::size_t size = std::min(piece.size(), room);
                if (size == 0) continue;
                bytes[count++] = {static_cast<const char*>(piece.data()), size};
                room -= size;
            }
        }
        std::array<std::span<const char>, 4> bytes{};
        std::size_t count = 0;
    };

    // The first non-empty buffer of `buffers` (an empty one if there is none).
    template <class Buffers>
    static auto first_buffer(const Buffers& buffers) {
        using Buffer = std::decay_t<decltype(*boost::asio::buffer_sequence_begin(buffers))>;
        for (auto it = boost::asio::buffer_sequence_begin(buffers);
             it != boost::asio::buffer_sequence_end(buffers); ++it) {
            if (Buffer piece = *it; piece.size() > 0) return piece;
        }
        return Buffer{};
    }

    template <class StepFn, class Token>
    auto run_tls(StepFn step, Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            detail::TlsOperation<StepFn>{*m_tls, m_tcp, std::move(step)}, token, m_tcp);
    }

    std::shared_ptr<boost::asio::ssl::context> m_context;  // outlives m_tls
    TimedSocket m_tcp;
    std::unique_ptr<TlsChannel> m_tls;
};

}  // namespace proxy::server
