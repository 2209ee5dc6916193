#pragma once
// The TLS side of a server connection without I/O: an OpenSSL session over a memory BIO pair.
// Stream moves the encrypted bytes between the pair and the socket; this class says what the
// session needs next. The pair holds up to k_network_bytes each way, so one write of
// k_max_write plaintext bytes becomes its TLS records in one buffer, written to the socket with
// one call (OpenSSL's socket BIO, and asio's SSL stream, write one record per call).

#include <cstddef>
#include <span>

#include <boost/system/error_code.hpp>
#include <openssl/ssl.h>

namespace proxy::server {

class TlsChannel {
  public:
    // Plaintext bytes one write takes at most.
    static constexpr std::size_t k_max_write = 256 * 1024;
    // Bytes the BIO pair buffers each way: k_max_write in 16 KiB records, with room to spare.
    static constexpr std::size_t k_network_bytes = k_max_write + 32 * 1024;

    // What a step needs before it can go on.
    enum class Need {
        nothing,  // done: `bytes` is the step's result
        input,    // bytes from the peer (pending output first, if any)
        output,   // room: the pending output written out
        failed,   // `error` says why
    };
    struct Step {
        Need need = Need::nothing;
        std::size_t bytes = 0;
        boost::system::error_code error = {};
    };

    // A server-side session of `ctx`; valid() is false when OpenSSL could not make one.
    explicit TlsChannel(SSL_CTX* ctx);
    TlsChannel(const TlsChannel&) = delete;
    TlsChannel& operator=(const TlsChannel&) = delete;
    ~TlsChannel();

    bool valid() const { return m_ssl != nullptr; }
    SSL* native_handle() const { return m_ssl; }

    // One try at each operation. Call again after what it needs was provided.
    Step handshake();
    Step read(std::span<char> into);
    // Writes all of `bytes` (at most k_max_write) once it reports `nothing`; after `output`,
    // call again with the same bytes.
    Step write(std::span<const char> bytes);
    // Sends close_notify, then waits for the peer's: `input` until it came.
    Step shutdown();

    // Encrypted bytes waiting for the socket (a contiguous part of them), and how many of
    // those went out.
    std::span<const char> pending_output();
    void sent(std::size_t bytes);
    // Room for encrypted bytes from the socket, and how many arrived there.
    std::span<char> input_room();
    void received(std::size_t bytes);

    // One write and one read of the socket at a time: set while one is in flight.
    bool writing = false;
    bool reading = false;

  private:
    Step outcome(int rc);

    SSL* m_ssl = nullptr;
    BIO* m_network = nullptr;  // our end of the pair; the session owns the other
};

}  // namespace proxy::server
