#include "proxy/upstream/upstream_client.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "config/url.hpp"
#include "proxy/upstream/authenticator.hpp"
#include "proxy/upstream/connector.hpp"
#include "proxy/upstream/location.hpp"
#include "proxy/upstream/pool.hpp"
#include "proxy/upstream/pooled_response.hpp"
#include "proxy/upstream/response_body.hpp"
#include "proxy/upstream/small_answer.hpp"
#include "proxy/upstream/upstream_error.hpp"
#include "proxy/upstream/warn.hpp"

namespace proxy::upstream {

namespace {

namespace ssl = net::ssl;
using boost::system::error_code;
using boost::system::result;
using Clock = std::chrono::steady_clock;

constexpr auto k_use = net::as_tuple(net::use_awaitable);
constexpr std::uint32_t k_header_limit = 64 * 1024;
constexpr unsigned k_max_redirects = 5;
constexpr std::size_t k_token_body_limit = 1024 * 1024;
constexpr auto k_first_backoff = std::chrono::milliseconds(100);
constexpr auto k_max_backoff = std::chrono::milliseconds(5000);
constexpr std::string_view k_user_agent = "envcache/0.1";
// The retry budget's floor: retries an upstream gets beyond its share of requests.
constexpr double k_retry_floor = 10;

// What one request's attempts may do.
struct Attempts {
    bool retry = true;                          // retries allowed (not a probe, not asked off)
    std::optional<Clock::time_point> deadline;  // the request's own limit, if any
};

// Errors worth another attempt: the network's, not TLS verification or our own.
bool is_retryable(const error_code& ec) {
    return ec.category() != net::error::get_ssl_category() &&
           ec.category() != net::ssl::error::get_stream_category() &&
           ec.category() != error_category();
}

// Whether an attempt's outcome says something about the upstream's health: our own errors
// (a bad URL, an unreadable ca_file) do not.
bool is_upstream_failure(const error_code& ec) {
    return ec.category() != error_category();
}

bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// A kept-alive connection the server has closed meanwhile fails its next exchange like this.
bool is_closed_by_server(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
}

class UpstreamClient final : public Client {
  public:
    UpstreamClient(net::any_io_executor executor, const config::UpstreamConfig& config)
        : m_config(config),
          m_connector(std::move(executor), config),
          m_pool(std::make_shared<Pool>()),
          m_auth(config),
          m_health(
              config.name,
              {config.breaker_failures,
               std::chrono::duration_cast<Health::Clock::duration>(config.breaker_probe_interval),
               config.retry_budget, k_retry_floor},
              Health::Clock::now, [](std::string_view line) { warn(std::string(line)); }) {
        // The loader has checked a configured url already; a Config built in code may hold any.
        const auto url = config::parse_upstream_url(m_config.url);
        if (!url) {
            m_setup_error = make_error_code(Error::bad_url);
            warn(m_config.name + ": url " + url.error().message);
        } else {
            m_origin = Origin{url->tls, url->host, url->port};
            m_base_path = url->path;
        }
    }

    const config::UpstreamConfig& config() const override { return m_config; }
    const Health* health() const override { return &m_health; }

    net::awaitable<result<std::unique_ptr<Response>>> send(Request request) override {
        if (m_setup_error) {
            co_return m_setup_error;
        }
        const Health::Admission admission = m_health.admit();
        if (admission == Health::Admission::refused) {
            co_return make_error_code(Error::circuit_open);
        }
        Attempts attempts;
        attempts.retry = request.retry && admission == Health::Admission::go;
        if (request.timeout) attempts.deadline = Clock::now() + *request.timeout;
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
            if (at_upstream && request.caller_authorization) {
                if (!request.caller_authorization->empty())
                    headers.set(http::field::authorization, *request.caller_authorization);
            } else if (at_upstream) {
                if (auto value = m_auth.authorization(request.scope)) {
                    headers.set(http::field::authorization, *value);
                }
            }
            auto response = co_await exchange(location, method, headers, attempts);
            if (!response) {
                co_return response.error();
            }
            const unsigned status = (*response)->status();

            if (status == 401 && at_upstream && request.caller_authorization) {
                co_return std::unique_ptr<Response>(std::move(*response));  // the caller's answer
            }
            if (status == 401 && at_upstream) {
                m_auth.refused(request.scope);
                if (authenticated) {
                    warn(m_config.name + ": " + std::string(http::to_string(method)) + " " +
                         location.describe() + ": authorization refused (401)");
                    co_return std::unique_ptr<Response>(std::move(*response));
                }
                authenticated = true;
                auto authenticating = authenticate(**response, request.scope, attempts);
                if (co_await std::move(authenticating)) {
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
                    auto next = resolve_redirect(location, target);
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
    // Answers the 401's challenge: fetches and caches a bearer token, or switches to basic
    // credentials. Returns whether the request should be sent again.
    net::awaitable<bool> authenticate(Response& response, const std::string& request_scope,
                                      const Attempts& attempts) {
        const auto step =
            m_auth.answer(response.headers()[http::field::www_authenticate], request_scope);
        if (!step) {
            co_return false;
        }
        if (!*step) {
            co_return true;  // basic credentials from now on
        }
        const TokenRequest& token_request = **step;
        const Location& location = token_request.location;
        auto answer = co_await exchange(location, http::verb::get, token_request.headers, attempts);
        if (!answer) {
            warn(m_config.name + ": token request to " + location.describe() +
                 " failed: " + answer.error().message());
            co_return false;
        }
        if ((*answer)->status() != 200) {
            warn(m_config.name + ": token endpoint " + location.describe() + " answered " +
                 std::to_string((*answer)->status()) + " for scope \"" + token_request.scope +
                 "\"");
            co_return false;
        }
        auto body = co_await read_body(**answer, k_token_body_limit);
        if (!body) {
            warn(m_config.name + ": token response from " + location.describe() +
                 " not read: " + body.error().message());
            co_return false;
        }
        if (!m_auth.accept_token(request_scope, *body)) {
            warn(m_config.name + ": token response from " + location.describe() +
                 " holds no token");
            co_return false;
        }
        co_return true;
    }

    // Sends one request and reads the answer's header, retrying connection errors and 5xx
    // answers with exponential backoff while `attempts` and the retry budget allow. A 5xx that
    // persists is returned as it is. Every attempt's outcome goes to the upstream's health.
    net::awaitable<result<std::unique_ptr<PooledResponse>>> exchange(const Location& location,
                                                                     http::verb method,
                                                                     const http::fields& headers,
                                                                     const Attempts& attempts) {
        auto backoff = std::chrono::duration_cast<Clock::duration>(k_first_backoff);
        for (unsigned attempt = 0;; ++attempt) {
            auto response = co_await attempt_once(location, method, headers, attempts.deadline);
            if (!response) {
                if (is_upstream_failure(response.error())) m_health.failed();
            } else if (is_server_error((*response)->status())) {
                m_health.failed();
            } else {
                m_health.succeeded();
            }
            const bool retryable_outcome =
                response ? (*response)->status() >= 500 : is_retryable(response.error());
            const bool time_left = !attempts.deadline || Clock::now() < *attempts.deadline;
            const bool last = attempt >= m_config.retries || !attempts.retry || !time_left ||
                              !retryable_outcome || !m_health.may_retry();
            const std::string what =
                std::string(http::to_string(method)) + " " + location.describe();
            if (!response) {
                if (last) {
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
        const Location& location, http::verb method, const http::fields& headers,
        std::optional<Clock::time_point> deadline) {
        // read_timeout per step, cut short by the request's deadline (never to zero, which
        // arm() takes as no limit).
        const auto step_limit = [&]() -> Clock::duration {
            if (!deadline) return m_config.read_timeout;
            return std::clamp<Clock::duration>(*deadline - Clock::now(),
                                               std::chrono::nanoseconds(1), m_config.read_timeout);
        };
        http::request<http::empty_body> request{method, location.target, 11};
        for (const auto& field : headers) {
            request.insert(field.name_string(), field.value());
        }
        request.set(http::field::host, location.origin.authority());
        request.set(http::field::user_agent, k_user_agent);

        auto connection = m_pool->take(location.origin.key());
        while (true) {
            const bool reused = connection != nullptr;
            if (!connection) {
                auto fresh = co_await m_connector.connect(location.origin, deadline);
                if (!fresh) {
                    co_return fresh.error();
                }
                connection = std::move(*fresh);
            }
            arm(connection->tcp(), step_limit());
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
                arm(connection->tcp(), step_limit());
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
            connection.reset();
            if (!(reused && is_closed_by_server(ec))) {
                co_return ec;
            }
        }
    }

    config::UpstreamConfig m_config;
    Connector m_connector;
    std::shared_ptr<Pool> m_pool;
    Authenticator m_auth;
    Health m_health;
    Origin m_origin;
    std::string m_base_path;  // the configured url's path, without a trailing '/'
    error_code m_setup_error;
};

}  // namespace

std::unique_ptr<Client> make_client(net::any_io_executor executor,
                                    const config::UpstreamConfig& config) {
    return std::make_unique<UpstreamClient>(std::move(executor), config);
}

}  // namespace proxy::upstream
