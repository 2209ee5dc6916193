#pragma once
// HTTP/1.1 client for one upstream registry: keep-alive pool, TLS, bearer-token and basic auth,
// redirects to object storage, timeouts and bounded retries. Coroutines; errors are values.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "proxy/upstream/health.hpp"

namespace proxy::upstream {

namespace net = boost::asio;
namespace http = boost::beast::http;

struct Request {
    http::verb method = http::verb::get;
    std::string target;    // origin-form path and query, e.g. "/v2/library/alpine/manifests/3"
    std::string scope;     // token scope, e.g. "repository:library/alpine:pull"
    http::fields headers;  // extra headers to send (Accept, Range); no Host or Authorization
    // A limit for the whole request (connect and answer header together), in place of
    // connect_timeout and read_timeout; none: those apply to each step.
    std::optional<std::chrono::milliseconds> timeout;
    bool retry = true;  // false: one attempt, whatever config.retries says
    // Set for a passthrough upstream: the caller's own Authorization value (empty: none), sent
    // to the upstream's origin only and instead of envcache's credentials; a 401 is returned
    // as it is. Never logged.
    std::optional<std::string> caller_authorization;
};

// An open response whose body is read in pieces. Reading the body to the end returns the
// connection to the pool; dropping the response early closes it.
class Response {
  public:
    virtual ~Response() = default;
    virtual unsigned status() const = 0;
    virtual const http::fields& headers() const = 0;
    virtual std::optional<std::uint64_t> content_length() const = 0;
    // Reads up to buffer_size() bytes of body. Returns 0 bytes with no error at the end of the
    // body; an error (timeout, reset, short body) otherwise.
    virtual net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) = 0;
};

class Client {
  public:
    virtual ~Client() = default;
    // Sends the request, following the auth challenge and redirects, retrying connection errors
    // and 5xx answers with backoff up to config.retries times, as far as the upstream's retry
    // budget allows. Any status the registry gives (200, 404, 401 after auth failed, ...) is a
    // value; an error is returned only when no response could be had (e.g. connection refused
    // after all retries, TLS failure, timeout) and, at once, while the upstream's circuit
    // breaker is open (Error::circuit_open).
    virtual net::awaitable<boost::system::result<std::unique_ptr<Response>>> send(
        Request request) = 0;
    virtual const config::UpstreamConfig& config() const = 0;
    // The upstream's breaker and retry budget; none for a client without one.
    virtual const Health* health() const { return nullptr; }
};

std::unique_ptr<Client> make_client(net::any_io_executor executor,
                                    const config::UpstreamConfig& config);

}  // namespace proxy::upstream
