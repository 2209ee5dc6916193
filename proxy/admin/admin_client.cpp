#include "proxy/admin/admin_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace proxy {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);
constexpr std::size_t k_body_limit = 64 * 1024 * 1024;

struct Call {
    std::string host;
    std::string port;
    http::request<http::string_body> request;
    std::chrono::seconds timeout;
};

net::awaitable<void> run(Call call, AdminReply& reply) {
    auto executor = co_await net::this_coro::executor;
    net::ip::tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(call.host, call.port, k_token);
    if (rec) {
        reply.failure = "cannot resolve " + call.host + ": " + rec.message();
        co_return;
    }
    boost::beast::tcp_stream stream(executor);
    stream.expires_after(call.timeout);
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, k_token);
    if (cec) {
        reply.failure = "cannot connect to " + call.host + ":" + call.port + ": " + cec.message();
        co_return;
    }
    stream.expires_after(call.timeout);
    auto [wec, written] = co_await http::async_write(stream, call.request, k_token);
    if (wec) {
        reply.failure = "sending the request failed: " + wec.message();
        co_return;
    }
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(k_body_limit);
    stream.expires_after(call.timeout);
    auto [rdec, read] = co_await http::async_read(stream, buffer, parser, k_token);
    if (rdec) {
        reply.failure = "reading the reply failed: " + rdec.message();
        co_return;
    }
    reply.status = parser.get().result_int();
    reply.body = std::move(parser.get().body());
    boost::system::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace

AdminReply admin_call(std::string_view server_url, std::string_view method, std::string_view target,
                      std::string_view body, std::string_view token, std::chrono::seconds timeout) {
    AdminReply reply;
    auto url = boost::urls::parse_absolute_uri(server_url);
    if (!url || url->scheme() != "http" || url->host().empty()) {
        reply.failure = "--server must be an http:// URL such as http://127.0.0.1:5000";
        return reply;
    }
    Call call;
    call.host = url->host_address();
    call.port = url->has_port() ? std::string(url->port()) : "80";
    call.timeout = timeout;
    std::string path(url->encoded_path());
    while (!path.empty() && path.back() == '/')
        path.pop_back();
    auto& req = call.request;
    req.method(http::string_to_verb(method));
    req.target(path + std::string(target));
    req.version(11);
    req.set(http::field::host, url->encoded_host_and_port());
    req.set(http::field::user_agent, "envcache-admin");
    req.set(http::field::accept, "application/json");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::string(body);
    }
    req.prepare_payload();

    net::io_context ioc;
    net::co_spawn(ioc, run(std::move(call), reply), [&reply](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            reply.failure = ex.what();
        }
    });
    ioc.run();
    return reply;
}

std::string error_message(const AdminReply& reply) {
    if (!reply.failure.empty()) return reply.failure;
    boost::system::error_code ec;
    auto value = boost::json::parse(reply.body, ec);
    if (!ec && value.is_object()) {
        const auto& o = value.get_object();
        if (auto it = o.find("errors");
            it != o.end() && it->value().is_array() && !it->value().get_array().empty()) {
            const auto& first = it->value().get_array()[0];
            if (first.is_object())
                if (auto m = first.get_object().find("message");
                    m != first.get_object().end() && m->value().is_string())
                    return std::string(m->value().get_string());
        }
        if (auto it = o.find("error"); it != o.end() && it->value().is_string())
            return std::string(it->value().get_string());
    }
    if (reply.body.empty()) return "HTTP " + std::to_string(reply.status);
    return "HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 500);
}

}  // namespace proxy
