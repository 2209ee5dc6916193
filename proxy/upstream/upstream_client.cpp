#include "proxy/upstream/upstream_client.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "proxy/log.hpp"
#include "proxy/upstream/auth_challenge.hpp"
#include "proxy/upstream/upstream_error.hpp"

namespace proxy::upstream {

namespace {

namespace beast = boost::beast;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using boost::system::result;
using Clock = std::chrono::steady_clock;

constexpr auto k_use = net::as_tuple(net::use_awaitable);
constexpr std::size_t k_max_idle_per_origin = 16;
// Servers close idle keep-alive connections after a while; older ones are not worth trying.
constexpr auto k_max_idle_age = std::chrono::seconds(30);
constexpr std::uint32_t k_header_limit = 64 * 1024;
constexpr unsigned k_max_redirects = 5;
// Bodies of answers the client consumes itself (401, 3xx, retried 5xx) are read up to this size
// so the connection can be reused; larger ones close the connection instead.
constexpr std::size_t k_drain_limit = 64 * 1024;
constexpr std::size_t k_token_body_limit = 1024 * 1024;
constexpr auto k_first_backoff = std::chrono::milliseconds(100);
constexpr auto k_max_backoff = std::chrono::milliseconds(5000);
constexpr auto k_default_token_lifetime = std::chrono::seconds(60);
constexpr auto k_max_token_margin = std::chrono::seconds(30);
constexpr std::string_view k_user_agent = "envcache/0.1";

// ---------------------------------------------------------------------------------------------
// Where a request goes.

struct Origin {
    bool tls = false;
    std::string host;  // IPv6 literals without brackets
    std::uint16_t port = 0;

    bool operator==(const Origin&) const = default;

    std::uint16_t default_port() const { return tls ? 443 : 80; }

    // The Host header value, also used in log lines.
    std::string authority() const {
        std::string text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        if (port != default_port()) {
            text += ':';
            text += std::to_string(port);
        }
        return text;
    }

    std::string key() const { return (tls ? "https://" : "http://") + authority(); }
};

struct Location {
    Origin origin;
    std::string target;  // origin-form: path and query

    // For log lines: scheme, host and path; never the query (presigned URLs carry signatures).
    std::string describe() const { return origin.key() + target.substr(0, target.find('?')); }
};

result<Location> to_location(boost::urls::url_view url) {
    Location location;
    if (url.scheme_id() == boost::urls::scheme::https) {
        location.origin.tls = true;
    } else if (url.scheme_id() != boost::urls::scheme::http) {
        return make_error_code(Error::bad_url);
    }
    location.origin.host = url.host_address();
    if (location.origin.host.empty()) {
        return make_error_code(Error::bad_url);
    }
    if (url.has_port()) {
        if (url.port_number() == 0) {
            return make_error_code(Error::bad_url);
        }
        location.origin.port = url.port_number();
    } else {
        location.origin.port = location.origin.default_port();
    }
    location.target = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
    if (url.has_query()) {
        location.target += '?';
        location.target += url.encoded_query();
    }
    return location;
}

// Log lines name the upstream and never hold credentials, tokens or query strings.
void warn(const std::string& message) {
    log_line("upstream " + message);
}

void arm(beast::tcp_stream& stream, std::chrono::steady_clock::duration timeout) {
    if (timeout > std::chrono::steady_clock::duration::zero()) {
        stream.expires_after(timeout);
    } else {
        stream.expires_never();
    }
}

std::string base64(std::string_view text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(text.data()),
                                       static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(std::max(length, 0)));
    return out;
}

// Errors worth another attempt: the network's, not TLS verification or our own.
bool is_retryable(const error_code& ec) {
    return ec.category() != net::error::get_ssl_category() &&
           ec.category() != net::ssl::error::get_stream_category() &&
           ec.category() != error_category();
}

// ---------------------------------------------------------------------------------------------
// One connection to an origin, plain or TLS, with the bytes read past the last message.

class Connection {
  public:
    using TlsStream = ssl::stream<beast::tcp_stream>;

    // Beast sizes each socket read by the buffer's free capacity (at least 512 bytes): without
    // room reserved up front, a large body arrives 512 bytes per read.
    static constexpr std::size_t k_read_buffer = 256 * 1024;

    Connection(std::string key, std::unique_ptr<beast::tcp_stream> stream)
        : m_key(std::move(key)), m_plain(std::move(stream)) {
        m_buffer.reserve(k_read_buffer);
    }
    Connection(std::string key, std::unique_ptr<TlsStream> stream)
        : m_key(std::move(key)), m_tls(std::move(stream)) {
        m_buffer.reserve(k_read_buffer);
    }

    const std::string& key() const { return m_key; }
    beast::tcp_stream& tcp() { return m_tls ? m_tls->next_layer() : *m_plain; }
    beast::flat_buffer& buffer() { return m_buffer; }

    // Calls f with the stream to read and write (the TLS stream or the plain one).
    template <class F>
    auto with_stream(F&& f) {
        if (m_tls) {
            return f(*m_tls);
        }
        return f(*m_plain);
    }

    void mark_idle() { m_idle_since = Clock::now(); }
    Clock::time_point idle_since() const { return m_idle_since; }

  private:
    std::string m_key;
    std::unique_ptr<beast::tcp_stream> m_plain;
    std::unique_ptr<TlsStream> m_tls;
    beast::flat_buffer m_buffer;
    Clock::time_point m_idle_since{};
};

// Idle keep-alive connections by origin. Shared by the client and its open responses, which
// hand their connection back when their body was read to the end.
class Pool {
  public:
    // An idle connection to the origin, or null if there is none young enough.
    std::unique_ptr<Connection> take(const std::string& key) {
        std::lock_guard lock(m_mutex);
        auto it = m_idle.find(key);
        if (it == m_idle.end()) {
            return nullptr;
        }
        auto& idle = it->second;
        while (!idle.empty()) {
            auto connection = std::move(idle.back());
            idle.pop_back();
            if (Clock::now() - connection->idle_since() < k_max_idle_age) {
                return connection;
            }
        }
        return nullptr;
    }

    // Keeps the connection for reuse, or closes it when the origin has enough idle ones.
    void give(std::unique_ptr<Connection> connection) {
        connection->mark_idle();
        std::lock_guard lock(m_mutex);
        auto& idle = m_idle[connection->key()];
        if (idle.size() < k_max_idle_per_origin) {
            idle.push_back(std::move(connection));
        }
    }

  private:
    std::mutex m_mutex;
    std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> m_idle;
};

// ---------------------------------------------------------------------------------------------

using Parser = http::response_parser<http::buffer_body>;

class PooledResponse final : public Response {
  public:
    PooledResponse(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection,
                   std::unique_ptr<Parser> parser, std::chrono::seconds read_timeout, bool head)
        : m_pool(std::move(pool)),
          m_connection(std::move(connection)),
          m_parser(std::move(parser)),
          m_read_timeout(read_timeout) {
        if (head) {
            // A HEAD answer's Content-Length describes the body a GET would have.
            const auto field = m_parser->get()[http::field::content_length];
            std::uint64_t length = 0;
            const auto [end, ec] =
                std::from_chars(field.data(), field.data() + field.size(), length);
            if (ec == std::errc{} && end == field.data() + field.size() && !field.empty()) {
                m_content_length = length;
            }
        } else if (const auto length = m_parser->content_length()) {
            m_content_length = *length;
        }
        if (m_parser->is_done()) {
            finish();
        }
    }

    unsigned status() const override { return m_parser->get().result_int(); }
    const http::fields& headers() const override { return m_parser->get(); }
    std::optional<std::uint64_t> content_length() const override { return m_content_length; }

    net::awaitable<std::pair<error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) override {
        if (m_error) {
            co_return std::pair{m_error, std::size_t{0}};
        }
        if (!m_connection || buffer.size() == 0) {
            co_return std::pair{error_code{}, std::size_t{0}};
        }
        while (true) {
            auto& body = m_parser->get().body();
            body.data = buffer.data();
            body.size = buffer.size();
            body.more = true;
            arm(m_connection->tcp(), m_read_timeout);
            auto [ec, consumed] = co_await m_connection->with_stream([this](auto& stream) {
                return http::async_read_some(stream, m_connection->buffer(), *m_parser, k_use);
            });
            std::ignore = consumed;
            if (ec == http::error::need_buffer) {
                ec = {};
            }
            if (ec) {
                m_error = ec;
                m_connection.reset();
                co_return std::pair{ec, std::size_t{0}};
            }
            const std::size_t filled = buffer.size() - body.size;
            if (m_parser->is_done()) {
                finish();
            }
            if (filled > 0 || !m_connection) {
                co_return std::pair{error_code{}, filled};
            }
        }
    }

  private:
    // The body was read to the end: the connection goes back to the pool if it can carry
    // another request.
    void finish() {
        if (m_parser->keep_alive() && m_connection->buffer().size() == 0) {
            m_connection->tcp().expires_never();
            m_pool->give(std::move(m_connection));
        }
        m_connection.reset();
    }

    std::shared_ptr<Pool> m_pool;
    std::unique_ptr<Connection> m_connection;  // null once the body was read or failed
    std::unique_ptr<Parser> m_parser;
    std::chrono::seconds m_read_timeout;
    std::optional<std::uint64_t> m_content_length;
    error_code m_error;
};

// Reads and drops a small body so the connection can be reused; a large one is left unread
// (destroying the response then closes the connection).
net::awaitable<void> discard_body(Response& response) {
    if (response.content_length().value_or(0) > k_drain_limit) {
        co_return;
    }
    std::array<char, 8192> scratch{};
    std::size_t total = 0;
    while (total <= k_drain_limit) {
        auto [ec, n] = co_await response.read_some(net::buffer(scratch));
        if (ec || n == 0) {
            co_return;
        }
        total += n;
    }
}

net::awaitable<result<std::string>> read_body(Response& response, std::size_t limit) {
    std::string body;
    std::array<char, 8192> scratch{};
    while (true) {
        auto [ec, n] = co_await response.read_some(net::buffer(scratch));
        if (ec) {
            co_return ec;
        }
        if (n == 0) {
            co_return std::move(body);
        }
        if (body.size() + n > limit) {
            co_return make_error_code(Error::body_too_large);
        }
        body.append(scratch.data(), n);
    }
}

struct Token {
    std::string value;
    Clock::time_point renew_at;
};

// A bearer token from a token endpoint's JSON answer ({"token": ..., "expires_in": ...}).
result<Token> parse_token(std::string_view body) {
    error_code ec;
    const auto json = boost::json::parse(body, ec);
    if (ec || !json.is_object()) {
        return make_error_code(Error::bad_token_response);
    }
    const auto& object = json.get_object();
    Token token;
    for (const char* name : {"token", "access_token"}) {
        const auto* value = object.if_contains(name);
        if (value && value->is_string() && !value->get_string().empty()) {
            token.value = std::string(value->get_string());
            break;
        }
    }
    if (token.value.empty()) {
        return make_error_code(Error::bad_token_response);
    }
    std::chrono::seconds lifetime = k_default_token_lifetime;
    if (const auto* value = object.if_contains("expires_in")) {
        if (value->is_int64() && value->get_int64() > 0) {
            lifetime = std::chrono::seconds(value->get_int64());
        } else if (value->is_uint64() && value->get_uint64() > 0) {
            lifetime = std::chrono::seconds(static_cast<std::int64_t>(
                std::min<std::uint64_t>(value->get_uint64(), 365ull * 24 * 3600)));
        }
    }
    // Renew before it runs out, so a token is not sent just as it expires.
    token.renew_at = Clock::now() + lifetime - std::min(k_max_token_margin, lifetime / 4);
    return token;
}

bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// ---------------------------------------------------------------------------------------------

class UpstreamClient final : public Client {
  public:
    UpstreamClient(net::any_io_executor executor, const config::UpstreamConfig& config)
        : m_executor(std::move(executor)),
          m_config(config),
          m_tls_context(ssl::context::tls_client),
          m_pool(std::make_shared<Pool>()) {
        const auto parsed = boost::urls::parse_uri(m_config.url);
        auto location = parsed ? to_location(*parsed) : result<Location>(parsed.error());
        if (!location) {
            m_setup_error = make_error_code(Error::bad_url);
            warn(m_config.name + ": url is not an http or https URL");
        } else {
            m_origin = location->origin;
            m_base_path = std::string(parsed->encoded_path());
            while (!m_base_path.empty() && m_base_path.back() == '/') {
                m_base_path.pop_back();
            }
        }
        if (m_config.insecure_skip_verify) {
            warn(m_config.name +
                 ": warning: insecure_skip_verify is set, TLS certificates are not verified");
        }
    }

    const config::UpstreamConfig& config() const override { return m_config; }

    net::awaitable<result<std::unique_ptr<Response>>> send(Request request) override {
        if (m_setup_error) {
            co_return m_setup_error;
        }
        request.headers.erase(http::field::host);
        request.headers.erase(http::field::authorization);
        Location location{m_origin, m_base_path + request.target};
        http::verb method = request.method;
        bool authenticated = false;  // the challenge was answered once already
        unsigned redirects = 0;
        while (true) {
            // Credentials and tokens go to the configured upstream only, never to a host it
            // redirects to (object storage with presigned URLs).
            const bool at_upstream = location.origin == m_origin;
            http::fields headers = request.headers;
            if (at_upstream) {
                if (auto value = authorization(request.scope)) {
                    headers.set(http::field::authorization, *value);
                }
            }
            auto response = co_await exchange(location, method, headers);
            if (!response) {
                co_return response.error();
            }
            const unsigned status = (*response)->status();

            if (status == 401 && at_upstream) {
                forget_token(request.scope);
                if (authenticated) {
                    warn(m_config.name + ": " + std::string(http::to_string(method)) + " " +
                         location.describe() + ": authorization refused (401)");
                    co_return std::unique_ptr<Response>(std::move(*response));
                }
                authenticated = true;
                if (co_await authenticate(**response, request.scope)) {
                    co_await discard_body(**response);
                    continue;
                }
                co_return std::unique_ptr<Response>(std::move(*response));
            }

            if (is_redirect(status)) {
                const auto target = (*response)->headers()[http::field::location];
                if (!target.empty()) {
                    if (++redirects > k_max_redirects) {
                        warn(m_config.name + ": " + location.describe() + ": too many redirects");
                        co_return make_error_code(Error::too_many_redirects);
                    }
                    auto next = resolve(location, target);
                    if (!next) {
                        warn(m_config.name + ": " + location.describe() +
                             ": redirect to an unusable location");
                        co_return next.error();
                    }
                    co_await discard_body(**response);
                    if (status == 303 && method != http::verb::head) {
                        method = http::verb::get;
                    }
                    location = std::move(*next);
                    continue;
                }
            }
            co_return std::unique_ptr<Response>(std::move(*response));
        }
    }

  private:
    // Loads the trusted certificates on first use: the system store takes a while to parse,
    // and plain-http upstreams never need it. Returns the error that makes TLS unusable.
    error_code tls_context_error() {
        std::call_once(m_tls_setup, [this] {
            error_code ec;
            m_tls_context.set_default_verify_paths(ec);
            if (ec) {
                warn(m_config.name + ": system CA store not loaded: " + ec.message());
            }
            if (!m_config.ca_file.empty()) {
                m_tls_context.load_verify_file(m_config.ca_file, ec);
                if (ec) {
                    m_tls_error = make_error_code(Error::bad_ca_file);
                    warn(m_config.name + ": ca_file " + m_config.ca_file +
                         " not loaded: " + ec.message());
                }
            }
        });
        return m_tls_error;
    }

    // The Authorization value to send to the upstream for this scope, if any is known.
    std::optional<std::string> authorization(const std::string& scope) {
        {
            std::lock_guard lock(m_auth_mutex);
            auto it = m_tokens.find(scope);
            if (it != m_tokens.end()) {
                if (Clock::now() < it->second.renew_at) {
                    return "Bearer " + it->second.value;
                }
                m_tokens.erase(it);
            }
            if (!m_basic) {
                return std::nullopt;
            }
        }
        if (m_config.username.empty()) {
            return std::nullopt;
        }
        return basic_credentials();
    }

    void forget_token(const std::string& scope) {
        std::lock_guard lock(m_auth_mutex);
        m_tokens.erase(scope);
    }

    std::string basic_credentials() const {
        return "Basic " + base64(m_config.username + ":" + m_config.password());
    }

    // Answers the 401's challenge: fetches and caches a bearer token, or switches to basic
    // credentials. Returns whether the request should be sent again.
    net::awaitable<bool> authenticate(Response& response, const std::string& request_scope) {
        const auto header = response.headers()[http::field::www_authenticate];
        const auto challenge = parse_auth_challenge(header);
        if (!challenge) {
            warn(m_config.name + ": 401 without a usable WWW-Authenticate challenge");
            co_return false;
        }
        if (challenge->scheme == AuthChallenge::Scheme::basic) {
            if (m_config.username.empty()) {
                warn(m_config.name + ": upstream asks for basic credentials, none configured");
                co_return false;
            }
            std::lock_guard lock(m_auth_mutex);
            m_basic = true;
            co_return true;
        }
        const std::string scope = request_scope.empty() ? challenge->scope : request_scope;
        auto token = co_await fetch_token(*challenge, scope);
        if (!token) {
            co_return false;
        }
        std::lock_guard lock(m_auth_mutex);
        const auto now = Clock::now();
        std::erase_if(m_tokens, [now](const auto& entry) { return entry.second.renew_at <= now; });
        m_tokens[request_scope] = std::move(*token);
        co_return true;
    }

    net::awaitable<result<Token>> fetch_token(const AuthChallenge& challenge,
                                              const std::string& scope) {
        const auto realm = boost::urls::parse_uri(challenge.realm);
        if (!realm) {
            warn(m_config.name + ": bearer challenge without a usable realm");
            co_return make_error_code(Error::bad_url);
        }
        boost::urls::url url(*realm);
        if (!challenge.service.empty()) {
            url.params().append({"service", challenge.service});
        }
        if (!scope.empty()) {
            url.params().append({"scope", scope});
        }
        auto location = to_location(url);
        if (!location) {
            warn(m_config.name + ": bearer challenge without a usable realm");
            co_return location.error();
        }
        http::fields headers;
        if (!m_config.username.empty()) {
            headers.set(http::field::authorization, basic_credentials());
        }
        auto response = co_await exchange(*location, http::verb::get, headers);
        if (!response) {
            warn(m_config.name + ": token request to " + location->describe() +
                 " failed: " + response.error().message());
            co_return response.error();
        }
        if ((*response)->status() != 200) {
            warn(m_config.name + ": token endpoint " + location->describe() + " answered " +
                 std::to_string((*response)->status()) + " for scope \"" + scope + "\"");
            co_return make_error_code(Error::token_refused);
        }
        auto body = co_await read_body(**response, k_token_body_limit);
        if (!body) {
            warn(m_config.name + ": token response from " + location->describe() +
                 " not read: " + body.error().message());
            co_return body.error();
        }
        auto token = parse_token(*body);
        if (!token) {
            warn(m_config.name + ": token response from " + location->describe() +
                 " holds no token");
        }
        co_return std::move(token);
    }

    // The location a redirect points to, relative to the one that answered it.
    static result<Location> resolve(const Location& from, std::string_view target) {
        const auto reference = boost::urls::parse_uri_reference(target);
        const std::string from_text = from.origin.key() + from.target;
        const auto base = boost::urls::parse_uri(from_text);
        if (!reference || !base) {
            return make_error_code(Error::bad_url);
        }
        boost::urls::url resolved;
        if (const auto done = boost::urls::resolve(*base, *reference, resolved); !done) {
            return make_error_code(Error::bad_url);
        }
        return to_location(resolved);
    }

    // Sends one request and reads the answer's header, retrying connection errors and 5xx
    // answers with exponential backoff. A 5xx that persists is returned as it is.
    net::awaitable<result<std::unique_ptr<PooledResponse>>> exchange(const Location& location,
                                                                     http::verb method,
                                                                     const http::fields& headers) {
        auto backoff = std::chrono::duration_cast<Clock::duration>(k_first_backoff);
        for (unsigned attempt = 0;; ++attempt) {
            auto response = co_await attempt_once(location, method, headers);
            const bool last = attempt >= m_config.retries;
            const std::string what =
                std::string(http::to_string(method)) + " " + location.describe();
            if (!response) {
                if (last || !is_retryable(response.error())) {
                    warn(m_config.name + ": " + what + " failed: " + response.error().message());
                    co_return response.error();
                }
                warn(m_config.name + ": " + what + " failed: " + response.error().message() +
                     "; retry " + std::to_string(attempt + 1) + "/" +
                     std::to_string(m_config.retries));
            } else if ((*response)->status() >= 500 && !last) {
                warn(m_config.name + ": " + what + " answered " +
                     std::to_string((*response)->status()) + "; retry " +
                     std::to_string(attempt + 1) + "/" + std::to_string(m_config.retries));
                co_await discard_body(**response);
            } else {
                co_return std::move(response);
            }
            net::steady_timer timer(co_await net::this_coro::executor, backoff);
            std::ignore = co_await timer.async_wait(k_use);
            backoff = std::min<Clock::duration>(backoff * 2, k_max_backoff);
        }
    }

    // One attempt: a pooled connection (or, if that turns out closed, a fresh one), the
    // request written and the answer's header read.
    net::awaitable<result<std::unique_ptr<PooledResponse>>> attempt_once(
        const Location& location, http::verb method, const http::fields& headers) {
        http::request<http::empty_body> request{method, location.target, 11};
        for (const auto& field : headers) {
            request.insert(field.name_string(), field.value());
        }
        request.set(http::field::host, location.origin.authority());
        request.set(http::field::user_agent, k_user_agent);

        const auto key = location.origin.key();
        auto connection = m_pool->take(key);
        while (true) {
            const bool reused = connection != nullptr;
            if (!connection) {
                auto fresh = co_await connect(location.origin);
                if (!fresh) {
                    co_return fresh.error();
                }
                connection = std::move(*fresh);
            }
            arm(connection->tcp(), m_config.read_timeout);
            auto [write_ec, written] = co_await connection->with_stream(
                [&](auto& stream) { return http::async_write(stream, request, k_use); });
            std::ignore = written;
            auto parser = std::make_unique<Parser>();
            parser->header_limit(k_header_limit);
            parser->body_limit(boost::none);
            if (method == http::verb::head) {
                parser->skip(true);
            }
            error_code ec = write_ec;
            if (!ec) {
                arm(connection->tcp(), m_config.read_timeout);
                auto [read_ec, read] = co_await connection->with_stream([&](auto& stream) {
                    return http::async_read_header(stream, connection->buffer(), *parser, k_use);
                });
                std::ignore = read;
                ec = read_ec;
            }
            if (!ec) {
                co_return std::make_unique<PooledResponse>(m_pool, std::move(connection),
                                                           std::move(parser), m_config.read_timeout,
                                                           method == http::verb::head);
            }
            // A kept-alive connection the server has closed meanwhile: try a fresh one.
            const bool closed_by_server =
                ec == http::error::end_of_stream || ec == net::error::eof ||
                ec == net::error::connection_reset || ec == net::error::broken_pipe ||
                ec == ssl::error::stream_truncated;
            connection.reset();
            if (!(reused && closed_by_server)) {
                co_return ec;
            }
        }
    }

    // Resolves, connects and (for https) does the TLS handshake, all within connect_timeout.
    net::awaitable<result<std::unique_ptr<Connection>>> connect(const Origin& origin) {
        if (origin.tls) {
            if (auto ec = tls_context_error(); ec) {
                co_return ec;
            }
        }
        const auto deadline = Clock::now() + m_config.connect_timeout;
        const bool timed = m_config.connect_timeout.count() > 0;
        const auto executor = m_executor;

        // The resolver has no timeout of its own: a timer cancels it.
        auto resolver = std::make_shared<tcp::resolver>(executor);
        net::steady_timer timer(executor);
        if (timed) {
            timer.expires_at(deadline);
            timer.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](error_code ec) {
                if (!ec) {
                    if (auto resolver = weak.lock()) {
                        resolver->cancel();
                    }
                }
            });
        }
        auto [resolve_ec, endpoints] =
            co_await resolver->async_resolve(origin.host, std::to_string(origin.port), k_use);
        timer.cancel();
        if (resolve_ec) {
            if (resolve_ec == net::error::operation_aborted) {
                resolve_ec = beast::error::timeout;
            }
            co_return resolve_ec;
        }

        auto stream = std::make_unique<beast::tcp_stream>(executor);
        arm(*stream, timed ? deadline - Clock::now() : Clock::duration::zero());
        auto [connect_ec, endpoint] = co_await stream->async_connect(endpoints, k_use);
        std::ignore = endpoint;
        if (connect_ec) {
            co_return connect_ec;
        }
        stream->socket().set_option(tcp::no_delay(true), connect_ec);
        if (!origin.tls) {
            co_return std::make_unique<Connection>(origin.key(), std::move(stream));
        }

        auto tls = std::make_unique<Connection::TlsStream>(std::move(*stream), m_tls_context);
        error_code ec;
        if (net::ip::make_address(origin.host, ec); ec) {
            // SNI carries host names only, never address literals.
            if (!SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str())) {
                co_return error_code(static_cast<int>(::ERR_get_error()),
                                     net::error::get_ssl_category());
            }
        }
        if (m_config.insecure_skip_verify) {
            tls->set_verify_mode(ssl::verify_none);
        } else {
            tls->set_verify_mode(ssl::verify_peer);
            tls->set_verify_callback(ssl::host_name_verification(origin.host));
        }
        arm(tls->next_layer(), timed ? deadline - Clock::now() : Clock::duration::zero());
        auto [handshake_ec] = co_await tls->async_handshake(ssl::stream_base::client, k_use);
        if (handshake_ec) {
            warn(m_config.name + ": TLS handshake with " + origin.authority() +
                 " failed: " + handshake_ec.message());
            co_return handshake_ec;
        }
        co_return std::make_unique<Connection>(origin.key(), std::move(tls));
    }

    net::any_io_executor m_executor;
    config::UpstreamConfig m_config;
    ssl::context m_tls_context;
    std::once_flag m_tls_setup;
    error_code m_tls_error;  // set once by tls_context_error()
    std::shared_ptr<Pool> m_pool;
    Origin m_origin;
    std::string m_base_path;  // from the configured url, without a trailing '/'
    error_code m_setup_error;

    std::mutex m_auth_mutex;
    std::map<std::string, Token> m_tokens;  // by the request's scope
    bool m_basic = false;                   // the upstream asked for basic credentials
};

class ErrorCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "upstream"; }
    std::string message(int value) const override {
        switch (static_cast<Error>(value)) {
            case Error::bad_url:
                return "not a usable http or https URL";
            case Error::bad_ca_file:
                return "the upstream's ca_file could not be loaded";
            case Error::too_many_redirects:
                return "too many redirects";
            case Error::token_refused:
                return "the token endpoint refused the token request";
            case Error::bad_token_response:
                return "the token endpoint's answer holds no token";
            case Error::body_too_large:
                return "the upstream's answer is too large";
        }
        return "upstream error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const ErrorCategory category;
    return category;
}

std::unique_ptr<Client> make_client(net::any_io_executor executor,
                                    const config::UpstreamConfig& config) {
    return std::make_unique<UpstreamClient>(std::move(executor), config);
}

}  // namespace proxy::upstream
