#pragma once
// One request and its response on a connection: what a handler reads, the helpers it writes
// with, and what the access log reports afterwards.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "proxy/server/api_error.hpp"
#include "proxy/server/stream.hpp"

namespace proxy::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Stream (proxy/server/stream.hpp): plain or TLS; its executor is the connection's strand.
using Request = http::request<http::string_body>;

struct Exchange {
    Stream& stream;
    const Request& request;
    std::chrono::seconds write_timeout;
    std::vector<std::string> client_cert_names;  // verified client certificate: subject CN first,
                                                 // then SANs; empty without one

    // Filled in by the handler and the helpers, read by the access log and the connection loop.
    unsigned status = 0;
    std::uint64_t bytes = 0;    // body bytes sent
    std::string outcome = "-";  // hit | miss | stale | coalesced | -
    bool keep_alive = true;
    bool aborted = false;       // connection cut mid-body on purpose
    std::string identity = {};  // who the caller was made out to be; empty: anonymous or unknown

    bool is_head() const { return request.method() == http::verb::head; }
};

// Sends a complete response with `body`. For HEAD only the headers go out, with the
// Content-Length the body would have had. Errors end the connection (keep_alive = false).
net::awaitable<void> send_response(Exchange& ex, http::status status, const http::fields& headers,
                                   std::string_view body);

// send_response with header fields rendered beforehand by append_fields (response_head.hpp).
net::awaitable<void> send_rendered(Exchange& ex, http::status status,
                                   std::string_view rendered_fields, std::string_view body);

// Answers a HEAD request: headers only, with Content-Length `length`.
net::awaitable<void> send_head(Exchange& ex, http::status status, const http::fields& headers,
                               std::uint64_t length);

// Sends an OCI error JSON body. Arguments are references: callers pass named objects, since
// GCC 12 mishandles non-trivial temporaries in co_await expressions inside branches.
net::awaitable<void> send_error(Exchange& ex, const ApiError& error);
net::awaitable<void> send_error(Exchange& ex, const ApiError& error, const http::fields& headers);

// Sends a response decided elsewhere (the admin and environment APIs).
net::awaitable<void> send_response(Exchange& ex, const ApiResponse& response);

// Closes the connection without finishing the response, so the client sees a short body.
void abort_connection(Exchange& ex);

// A streamed response body: the head, then pieces as they come. The head goes out with the
// first piece (one write) unless write_header sends it first, as a caller does that may wait
// long for its first byte.
class BodyWriter {
  public:
    // `length`: Content-Length; std::nullopt sends chunked (HTTP/1.1), or under HTTP/1.0
    // the bare body, ending the connection after it.
    BodyWriter(Exchange& ex, http::status status, const http::fields& headers,
               std::optional<std::uint64_t> length);
    BodyWriter(const BodyWriter&) = delete;
    BodyWriter& operator=(const BodyWriter&) = delete;

    // Sends the head now, if it is not sent yet.
    net::awaitable<bool> write_header();
    net::awaitable<bool> write(std::span<const char> bytes);
    // Sends `count` bytes of the file `fd` from `offset`, with the head if it is not sent yet.
    // Plain TCP with a Content-Length: sendfile(2), so the bytes go from the page cache to the
    // socket without a copy in this process. The caller guarantees that those bytes never
    // change while the kernel may still hold them (a sealed memfd; see cache/hot_blobs.hpp).
    // Otherwise (TLS, chunked) they are read with pread and written like write() does. A file
    // shorter than asked for ends the connection (false), so the client sees a short body.
    net::awaitable<bool> write_file(int fd, std::uint64_t offset, std::uint64_t count);
    // Ends the body (the last chunk when chunked), sending the head if nothing was written.
    net::awaitable<bool> finish();

  private:
    Exchange& m_ex;
    bool m_chunked;
    std::string m_head;  // not sent yet while not empty
};

}  // namespace proxy::server
