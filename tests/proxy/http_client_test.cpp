#include "proxy/cli/http_client.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>

#include "tests/proxy/http_result_string.hpp"
#include "tests/proxy/loopback_server.hpp"

using namespace proxy::test;
using proxy::cli::HttpClient;
using proxy::cli::HttpClientOptions;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view k_token = "9f86d081884c7d659a2feaa0c55ad015";

HttpClient client_for(const std::string& url, HttpClientOptions options = {}) {
    auto client = HttpClient::for_server(url, std::move(options));
    REQUIRE(client);
    return std::move(*client);
}

HttpClientOptions with_token() {
    HttpClientOptions options;
    options.bearer_token = std::string(k_token);
    return options;
}

// Reads the request, then holds the connection open without answering until the client goes.
void never_answer(LoopbackServer::Socket& socket) {
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    Request request;
    http::read(socket, buffer, request, ec);
    char byte;
    socket.read_some(net::buffer(&byte, 1), ec);
}

// Reads the request and closes the connection without a reply.
void hang_up(LoopbackServer::Socket& socket) {
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    Request request;
    http::read(socket, buffer, request, ec);
    socket.shutdown(LoopbackServer::Socket::shutdown_both, ec);
}

}  // namespace

TEST_CASE("a call sends method, prefixed target, Host, token and JSON body, and returns the reply",
          "[cli]") {
    std::mutex mutex;
    std::optional<Request> seen;
    LoopbackServer server(serve_http([&](const Request& req, const net::ip::address&) {
        std::lock_guard lock(mutex);
        seen = req;
        return response(201, R"({"ok":true})");
    }));
    const auto client = client_for(server.url() + "/mirror/", with_token());

    auto reply = client.call(http::verb::put, "/api/v1/things/a%2Fb", R"({"x":1})");

    REQUIRE(reply);
    CHECK(reply->status == 201);
    CHECK(reply->body == R"({"ok":true})");
    std::lock_guard lock(mutex);
    REQUIRE(seen);
    CHECK(seen->method() == http::verb::put);
    CHECK(seen->target() == "/mirror/api/v1/things/a%2Fb");
    CHECK(seen->at(http::field::host) == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(seen->at(http::field::authorization) == "Bearer " + std::string(k_token));
    CHECK(seen->at(http::field::content_type) == "application/json");
    CHECK(seen->at(http::field::user_agent) == "envcache-cli");
    CHECK(seen->body() == R"({"x":1})");
}

TEST_CASE("a call without a token or a body sends neither header", "[cli]") {
    std::mutex mutex;
    std::optional<Request> seen;
    LoopbackServer server(serve_http([&](const Request& req, const net::ip::address&) {
        std::lock_guard lock(mutex);
        seen = req;
        return response(200, "{}");
    }));

    REQUIRE(client_for(server.url()).call(http::verb::get, "/x"));

    std::lock_guard lock(mutex);
    REQUIRE(seen);
    CHECK(seen->target() == "/x");
    CHECK(seen->find(http::field::authorization) == seen->end());
    CHECK(seen->find(http::field::content_type) == seen->end());
}

TEST_CASE("an error status is a reply, and its message comes from the body", "[cli]") {
    std::vector<Response> answers{
        response(404, R"({"errors":[{"code":"NAME_UNKNOWN","message":"no such pin"}]})"),
        response(400, R"({"error":"bad limits"})"), response(502, "bad gateway", "text/plain"),
        response(500, "")};
    std::size_t next = 0;
    LoopbackServer server(
        serve_http([&](const Request&, const net::ip::address&) { return answers.at(next++); }));
    const auto client = client_for(server.url());
    auto message_of_next = [&] {
        auto reply = client.call(http::verb::get, "/");
        REQUIRE(reply);
        return std::to_string(reply->status) + " " + client.error_message(*reply);
    };

    CHECK(message_of_next() == "404 no such pin");
    CHECK(message_of_next() == "400 bad limits");
    CHECK(message_of_next() == "502 HTTP 502: bad gateway");
    CHECK(message_of_next() == "500 HTTP 500");
}

TEST_CASE("a refused connection is a failure naming host and port", "[cli]") {
    const auto port = std::to_string(closed_port());
    auto reply = client_for("http://127.0.0.1:" + port).call(http::verb::get, "/");

    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == boost::system::errc::connection_refused);
    CHECK(reply.error().message.starts_with("cannot connect to 127.0.0.1:" + port + ": "));
}

TEST_CASE("a server that never answers is a timeout failure after the deadline", "[cli]") {
    LoopbackServer server(never_answer);
    HttpClientOptions options;
    options.timeout = std::chrono::milliseconds(300);
    const auto client = client_for(server.url(), options);

    const auto start = std::chrono::steady_clock::now();
    auto reply = client.call(http::verb::get, "/");
    const auto took = std::chrono::steady_clock::now() - start;

    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == boost::beast::error::timeout);
    CHECK(reply.error().message.find("timed out after 300ms") != std::string::npos);
    CHECK(took >= std::chrono::milliseconds(250));
    CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a reply longer than the body limit is a failure, not a truncated body", "[cli]") {
    LoopbackServer server(serve_http([](const Request&, const net::ip::address&) {
        return response(200, std::string(4096, 'x'), "text/plain");
    }));
    HttpClientOptions options;
    options.body_limit = 1024;

    auto too_long = client_for(server.url(), options).call(http::verb::get, "/");
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().code == http::error::body_limit);
    CHECK(too_long.error().message.find("larger than 1 KiB") != std::string::npos);

    options.body_limit = 4096;
    auto fits = client_for(server.url(), options).call(http::verb::get, "/");
    REQUIRE(fits);
    CHECK(fits->body.size() == 4096);
}

TEST_CASE("a connection closed before the reply is a read failure", "[cli]") {
    LoopbackServer server(hang_up);

    auto reply = client_for(server.url()).call(http::verb::get, "/");

    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == http::error::end_of_stream);
    CHECK(reply.error().message.starts_with("reading the reply from 127.0.0.1:"));
}

TEST_CASE("only http(s)://host[:port][/path] is a server URL; the refusal never echoes it",
          "[cli]") {
    auto refusal = [](std::string_view url) {
        auto client = HttpClient::for_server(url, {});
        REQUIRE_FALSE(client);
        CHECK(client.error().code == boost::system::errc::invalid_argument);
        return client.error().message;
    };

    CHECK(refusal("127.0.0.1:5000") ==
          "the server URL must be an http:// or https:// URL such as http://127.0.0.1:5000");
    CHECK(refusal("not a url") ==
          "the server URL must be an http:// or https:// URL such as http://127.0.0.1:5000");
    CHECK(refusal("ftp://127.0.0.1:5000") == "only http:// and https:// server URLs are supported");
    CHECK(refusal("http://admin:s3cret@127.0.0.1:5000") ==
          "the server URL must not contain a user name or password");
    CHECK(refusal("http://127.0.0.1:5000/?token=s3cret") ==
          "the server URL must not contain a query or a fragment");
    CHECK(refusal("http://127.0.0.1:5000/#s3cret") ==
          "the server URL must not contain a query or a fragment");
    CHECK(refusal("http://127.0.0.1:99999") ==
          "the server URL's port must be a number from 1 to 65535");
    CHECK(refusal("http://127.0.0.1:0") ==
          "the server URL's port must be a number from 1 to 65535");

    CHECK(HttpClient::for_server("http://127.0.0.1:5000/", {}));
    CHECK(HttpClient::for_server("HTTP://[::1]:5000", {}));
    CHECK(HttpClient::for_server("http://localhost", {}));
}

TEST_CASE("the token appears in no failure and no error message, even when the server quotes it",
          "[cli]") {
    const std::string bearer = "Bearer " + std::string(k_token);
    std::vector<Response> answers{
        response(401, "you sent Authorization: " + bearer, "text/plain"),
        response(403, R"({"errors":[{"message":"token )" + std::string(k_token) +
                          R"( is not valid"}]})"),
        // Long enough that the message's cut at 500 characters falls inside the token.
        response(400, std::string(480, '.') + " " + std::string(k_token), "text/plain")};
    std::size_t next = 0;
    LoopbackServer server(
        serve_http([&](const Request&, const net::ip::address&) { return answers.at(next++); }));
    const auto client = client_for(server.url(), with_token());
    const std::string token_start(k_token.substr(0, 8));

    for (std::size_t i = 0; i < answers.size(); ++i) {
        auto reply = client.call(http::verb::get, "/");
        REQUIRE(reply);
        const auto message = client.error_message(*reply);
        INFO(message);
        CHECK(message.find(token_start) == std::string::npos);
        CHECK(message.find("[redacted]") != std::string::npos);
    }

    const auto refused =
        client_for("http://127.0.0.1:" + std::to_string(closed_port()), with_token())
            .call(http::verb::get, "/");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find(token_start) == std::string::npos);

    LoopbackServer silent(hang_up);
    const auto closed = client_for(silent.url(), with_token()).call(http::verb::get, "/");
    REQUIRE_FALSE(closed);
    CHECK(closed.error().message.find(token_start) == std::string::npos);
}

TEST_CASE("a short token is redacted where it stands alone, not inside other words", "[cli]") {
    LoopbackServer server(serve_http([](const Request&, const net::ip::address&) {
        return response(401, R"({"error":"a valid token is required, not tok"})");
    }));
    HttpClientOptions options;
    options.bearer_token = "tok";
    const auto client = client_for(server.url(), options);

    auto reply = client.call(http::verb::get, "/");

    REQUIRE(reply);
    CHECK(client.error_message(*reply) == "a valid token is required, not [redacted]");
}
