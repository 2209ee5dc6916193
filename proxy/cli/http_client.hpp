#pragma once
// The CLI's HTTP/1.1 client: one request per connection to a server given as an http:// or
// https:// URL, with a deadline and a reply body limit, and every failure as a value with a
// message fit for the user. Synchronous: each call runs its own io_context.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace proxy::cli {

struct HttpClientOptions {
    // Connecting, sending and receiving together end within this; name resolution is left to
    // the system resolver, which Asio cannot cancel.
    std::chrono::milliseconds timeout = std::chrono::seconds(60);
    std::size_t body_limit = 16 * 1024 * 1024;  // a longer reply is a failure, never truncated
    std::string user_agent = "envcache-cli";
    std::string bearer_token;  // sent as `Authorization: Bearer <token>` if not empty
    std::string username;      // if not empty, sent as Basic with `password` (instead of Bearer)
    std::string password;
    // https:// only: a CA (PEM) trusted besides the system's, and a client certificate + key.
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
};

struct HttpReply {
    unsigned status = 0;
    std::string body;
};

// Why no whole reply arrived. `message` is one line for the user; it never holds the bearer
// token or password, the request's headers or anything of the URL but its host and port.
struct HttpFailure {
    boost::system::error_code code;  // errc::invalid_argument for a bad URL, else the I/O error
    std::string message;
};

// Lets `result<T, HttpFailure>::value()` throw std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const HttpFailure& failure,
                                             const boost::source_location& location);

template <class T>
using HttpResult = boost::system::result<T, HttpFailure>;

class HttpClient {
  public:
    // Accepts http:// or https://HOST[:PORT][/PREFIX] only: a user, password, query or fragment in
    // the URL is refused rather than ignored (and never echoed, since it may hold a secret).
    static HttpResult<HttpClient> for_server(std::string_view server_url,
                                             HttpClientOptions options);

    // Sends `method PREFIX+target` (`target` already percent-encoded) and reads the whole
    // reply, whatever its status. A non-empty `json_body` is sent as application/json.
    HttpResult<HttpReply> call(boost::beast::http::verb method, std::string_view target,
                               std::string_view json_body = {}) const;

    // The message of an error reply: the first OCI error's message, {"error": ...}, or
    // "HTTP <status>" and the start of the body. The bearer token and password, should the
    // server quote them, are shown as [redacted].
    std::string error_message(const HttpReply& reply) const;

    // The server URL as given; it holds no credentials (for_server refuses those).
    const std::string& server() const { return m_server; }

  private:
    HttpClient() = default;

    std::string m_server;
    std::string m_host;  // for the resolver: no brackets around an IPv6 address
    std::string m_port;
    std::string m_host_header;  // host and port as in the URL
    std::string m_where;        // host:port, to name the server in messages
    std::string m_prefix;       // the URL's path without trailing slashes
    bool m_tls = false;         // https://
    HttpClientOptions m_options;
};

}  // namespace proxy::cli
