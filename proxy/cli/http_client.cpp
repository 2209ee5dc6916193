#include "proxy/cli/http_client.hpp"

#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include "config/units.hpp"
#include "proxy/upstream/authenticator.hpp"

namespace proxy::cli {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);
constexpr std::size_t k_quoted_body_chars = 500;  // of a non-JSON error body, in a message

HttpFailure bad_url(std::string message) {
    return {make_error_code(boost::system::errc::invalid_argument), std::move(message)};
}

std::string duration_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0)
        return config::format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
    return std::to_string(d.count()) + "ms";
}

// The error in words; the deadline and the body limit with the values that were in force.
std::string reason(const boost::system::error_code& ec, const HttpClientOptions& options) {
    if (ec == boost::beast::error::timeout)
        return "timed out after " + duration_text(options.timeout);
    if (ec == http::error::body_limit)
        return "the reply is larger than " + config::format_size(options.body_limit);
    return ec.message();
}

// The characters of an RFC 6750 bearer token (token68).
bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~+/=").find(c) != std::string_view::npos;
}

// `text` with each occurrence of `secret` that stands alone replaced by [redacted]. An
// occurrence inside a longer word is left, so that a short token does not garble the words
// that happen to contain it.
std::string redact(const std::string& text, std::string_view secret) {
    if (secret.empty()) return text;
    std::string out;
    std::size_t copied = 0;
    std::size_t at = text.find(secret);
    while (at != std::string::npos) {
        const std::size_t end = at + secret.size();
        const bool alone = (at == 0 || !is_token_char(text[at - 1])) &&
                           (end == text.size() || !is_token_char(text[end]));
        if (alone) {
            out.append(text, copied, at - copied);
            out += "[redacted]";
            copied = end;
        }
        at = text.find(secret, alone ? end : at + 1);
    }
    out.append(text, copied);
    return out;
}

// The error text an API put in its JSON body: OCI's {"errors": [{"message"}]} or
// {"error": "..."}; nullopt for any other body.
std::optional<std::string> json_error(const std::string& body) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(body, ec);
    if (ec || !value.is_object()) return std::nullopt;
    const auto& o = value.get_object();
    if (const auto* errors = o.if_contains("errors");
        errors && errors->is_array() && !errors->get_array().empty()) {
        if (const auto* first = errors->get_array()[0].if_object())
            if (const auto* m = first->if_contains("message"); m && m->is_string())
                return std::string(m->get_string());
    }
    if (const auto* e = o.if_contains("error"); e && e->is_string())
        return std::string(e->get_string());
    return std::nullopt;
}

// Sends `request` on a connected stream (plain or TLS) and reads the whole reply.
template <class Stream>
net::awaitable<HttpResult<HttpReply>> send_and_read(Stream& stream, const std::string& where,
                                                    http::request<http::string_body>& request,
                                                    const HttpClientOptions& options) {
    auto [wec, written] = co_await http::async_write(stream, request, k_token);
    if (wec)
        co_return HttpFailure{
            wec, "sending the request to " + where + " failed: " + reason(wec, options)};
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    auto [rdec, read] = co_await http::async_read(stream, buffer, parser, k_token);
    if (rdec)
        co_return HttpFailure{
            rdec, "reading the reply from " + where + " failed: " + reason(rdec, options)};
    co_return HttpReply{parser.get().result_int(), std::move(parser.get().body())};
}

// The client's TLS context: the system's CAs and options.ca_file, and the client certificate.
// nullopt with `failure` set when a file cannot be loaded.
std::optional<HttpFailure> setup_tls(net::ssl::context& context, const HttpClientOptions& options) {
    boost::system::error_code ec;
    context.set_default_verify_paths(ec);
    if (!options.ca_file.empty()) {
        context.load_verify_file(options.ca_file, ec);
        if (ec)
            return HttpFailure{
                ec, "cannot load the CA file \"" + options.ca_file + "\": " + ec.message()};
    }
    if (!options.cert_file.empty()) {
        context.use_certificate_chain_file(options.cert_file, ec);
        if (ec)
            return HttpFailure{ec, "cannot load the client certificate \"" + options.cert_file +
                                       "\": " + ec.message()};
        context.use_private_key_file(options.key_file, net::ssl::context::pem, ec);
        if (ec)
            return HttpFailure{
                ec, "cannot load the client key \"" + options.key_file + "\": " + ec.message()};
    }
    context.set_verify_mode(net::ssl::verify_peer);
    return std::nullopt;
}

// `options` is the caller's, who blocks in io_context::run until this has returned.
net::awaitable<HttpResult<HttpReply>> exchange(std::string host, std::string port,
                                               std::string where, bool tls,
                                               http::request<http::string_body> request,
                                               const HttpClientOptions& options) {
    const auto executor = co_await net::this_coro::executor;
    std::optional<net::ssl::context> context;
    if (tls) {
        context.emplace(net::ssl::context::tls_client);
        if (auto failure = setup_tls(*context, options)) co_return std::move(*failure);
    }
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, k_token);
    if (rec) co_return HttpFailure{rec, "cannot resolve " + host + ": " + rec.message()};

    boost::beast::tcp_stream stream(executor);
    stream.expires_after(options.timeout);  // one deadline for connect, send and receive
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, k_token);
    if (cec) co_return HttpFailure{cec, "cannot connect to " + where + ": " + reason(cec, options)};
    boost::system::error_code ignored;  // the reply is whole; a failed shutdown changes nothing
    if (!tls) {
        auto reply = co_await send_and_read(stream, where, request, options);
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return reply;
    }
    net::ssl::stream<boost::beast::tcp_stream&> secure(stream, *context);
    boost::system::error_code address_ec;
    std::ignore = net::ip::make_address(host, address_ec);
    if (address_ec) SSL_set_tlsext_host_name(secure.native_handle(), host.c_str());  // SNI
    secure.set_verify_callback(net::ssl::host_name_verification(host));
    auto [hec] = co_await secure.async_handshake(net::ssl::stream_base::client, k_token);
    if (hec) co_return HttpFailure{hec, "TLS with " + where + " failed: " + reason(hec, options)};
    auto reply = co_await send_and_read(secure, where, request, options);
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return reply;
}

}  // namespace

void throw_exception_from_error(const HttpFailure& failure, const boost::source_location&) {
    throw std::runtime_error(failure.message);
}

HttpResult<HttpClient> HttpClient::for_server(std::string_view server_url,
                                              HttpClientOptions options) {
    const auto url = boost::urls::parse_uri(server_url);
    if (!url || url->encoded_host().empty())
        return bad_url(
            "the server URL must be an http:// or https:// URL such as "
            "http://127.0.0.1:5000");
    const bool tls = url->scheme_id() == boost::urls::scheme::https;
    if (url->scheme_id() != boost::urls::scheme::http && !tls)
        return bad_url("only http:// and https:// server URLs are supported");
    if (url->has_userinfo())
        return bad_url("the server URL must not contain a user name or password");
    if (url->has_query() || url->has_fragment())
        return bad_url("the server URL must not contain a query or a fragment");
    // Boost.URL 1.81's port_number() is not 0 for a port above 65535: the digits are checked here.
    const std::string_view port_text = url->port();
    unsigned port = tls ? 443 : 80;
    if (!port_text.empty()) {
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535)
            return bad_url("the server URL's port must be a number from 1 to 65535");
    }

    HttpClient client;
    client.m_server = std::string(server_url);
    client.m_host = url->host_address();
    client.m_port = std::to_string(port);
    client.m_host_header = std::string(url->encoded_host_and_port());
    client.m_where = std::string(url->encoded_host()) + ":" + client.m_port;
    client.m_prefix = std::string(url->encoded_path());
    while (!client.m_prefix.empty() && client.m_prefix.back() == '/')
        client.m_prefix.pop_back();
    client.m_tls = tls;
    client.m_options = std::move(options);
    return client;
}

HttpResult<HttpReply> HttpClient::call(http::verb method, std::string_view target,
                                       std::string_view json_body) const {
    http::request<http::string_body> request{method, m_prefix + std::string(target), 11};
    request.set(http::field::host, m_host_header);
    request.set(http::field::user_agent, m_options.user_agent);
    request.set(http::field::accept, "application/json");
    if (!m_options.username.empty()) {
        request.set(http::field::authorization,
                    upstream::basic_authorization(m_options.username, m_options.password));
    } else if (!m_options.bearer_token.empty()) {
        request.set(http::field::authorization, "Bearer " + m_options.bearer_token);
    }
    if (!json_body.empty()) {
        request.set(http::field::content_type, "application/json");
        request.body() = std::string(json_body);
    }
    request.prepare_payload();

    net::io_context ioc;
    std::optional<HttpResult<HttpReply>> out;
    net::co_spawn(ioc, exchange(m_host, m_port, m_where, m_tls, std::move(request), m_options),
                  [&out](std::exception_ptr e, HttpResult<HttpReply> result) {
                      // Only a bug or an exhausted heap throws in there: not a failure to
                      // report as the server's, so it propagates out of run().
                      if (e) std::rethrow_exception(e);
                      out = std::move(result);
                  });
    ioc.run();
    return std::move(*out);
}

std::string HttpClient::error_message(const HttpReply& reply) const {
    const auto redacted = [this](const std::string& text) {
        return redact(redact(text, m_options.bearer_token), m_options.password);
    };
    if (auto text = json_error(reply.body)) return redacted(*text);
    const std::string status = "HTTP " + std::to_string(reply.status);
    if (reply.body.empty()) return status;
    // Redacted before it is cut, so that no prefix of the token survives the cut.
    return status + ": " + redacted(reply.body).substr(0, k_quoted_body_chars);
}

}  // namespace proxy::cli
