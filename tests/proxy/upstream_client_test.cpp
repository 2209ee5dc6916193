#include "proxy/upstream/upstream_client.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy/upstream/upstream_error.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using proxy::upstream::Client;
using proxy::upstream::Request;
using proxy::upstream::Response;

constexpr auto k_use = net::as_tuple(net::use_awaitable);

// ---------------------------------------------------------------------------------------------
// A test double of a registry: answers each request with what the test's handler returns, on
// 127.0.0.1 and a port of its own, in a thread of its own. It records every request it saw.

struct Seen {
    std::string method;
    std::string target;
    std::string authorization;
    std::string host;
};

struct Reply {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::size_t chunk_size = 0;              // > 0: chunked transfer coding, one write per chunk
    std::optional<std::size_t> stall_after;  // send the header and this many body bytes, then hang
    bool stall_before_header = false;
    bool no_content_length = false;  // for HEAD answers that carry their own Content-Length
    bool close_after = false;        // close the connection after the answer, without announcing it
};

// An answer with this body and status.
Reply answer(std::string body, unsigned status = 200) {
    Reply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
}

using Handler = std::function<Reply(const http::request<http::string_body>&)>;

class TestServer {
  public:
    explicit TestServer(Handler handler, ssl::context* tls = nullptr)
        : m_handler(std::move(handler)),
          m_tls(tls),
          m_acceptor(m_io, {net::ip::make_address("127.0.0.1"), 0}) {
        net::co_spawn(m_io, accept_loop(), net::detached);
        m_thread = std::thread([this] { m_io.run(); });
    }

    ~TestServer() {
        m_io.stop();
        m_thread.join();
    }

    std::uint16_t port() const { return m_acceptor.local_endpoint().port(); }
    std::string url() const {
        return std::string(m_tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
    }

    std::size_t connections() const {
        std::lock_guard lock(m_mutex);
        return m_connections;
    }
    std::vector<Seen> requests() const {
        std::lock_guard lock(m_mutex);
        return m_seen;
    }
    std::size_t count(std::string_view path) const {
        std::lock_guard lock(m_mutex);
        std::size_t n = 0;
        for (const auto& seen : m_seen) {
            n += seen.target.substr(0, seen.target.find('?')) == path ? 1 : 0;
        }
        return n;
    }

  private:
    net::awaitable<void> accept_loop() {
        while (true) {
            auto [ec, socket] = co_await m_acceptor.async_accept(k_use);
            if (ec) {
                co_return;
            }
            {
                std::lock_guard lock(m_mutex);
                ++m_connections;
            }
            net::co_spawn(m_io, session(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> session(tcp::socket socket) {
        if (!m_tls) {
            co_await serve(socket);
            co_return;
        }
        ssl::stream<tcp::socket> stream(std::move(socket), *m_tls);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, k_use);
        if (!ec) {
            co_await serve(stream);
        }
    }

    template <class Stream>
    net::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        while (true) {
            http::request<http::string_body> request;
            auto [ec, n] = co_await http::async_read(stream, buffer, request, k_use);
            if (ec) {
                co_return;
            }
            {
                std::lock_guard lock(m_mutex);
                m_seen.push_back({std::string(request.method_string()),
                                  std::string(request.target()),
                                  std::string(request[http::field::authorization]),
                                  std::string(request[http::field::host])});
            }
            const Reply reply = m_handler(request);
            if (reply.stall_before_header) {
                co_await hang();
                co_return;
            }
            std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
            for (const auto& [name, value] : reply.headers) {
                head += name + ": " + value + "\r\n";
            }
            const bool head_request = request.method() == http::verb::head;
            if (reply.chunk_size > 0) {
                head += "Transfer-Encoding: chunked\r\n";
            } else if (!reply.no_content_length) {
                head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
            }
            head += "\r\n";
            if (!co_await write(stream, head)) {
                co_return;
            }
            if (head_request) {
                continue;
            }
            if (reply.stall_after) {
                if (co_await write(stream, reply.body.substr(0, *reply.stall_after))) {
                    co_await hang();
                }
                co_return;
            }
            if (reply.chunk_size == 0) {
                if (!co_await write(stream, reply.body) || reply.close_after) {
                    co_return;
                }
                continue;
            }
            for (std::size_t at = 0; at < reply.body.size(); at += reply.chunk_size) {
                const auto piece = reply.body.substr(at, reply.chunk_size);
                std::ostringstream size;
                size << std::hex << piece.size();
                if (!co_await write(stream, size.str() + "\r\n" + piece + "\r\n")) {
                    co_return;
                }
            }
            if (!co_await write(stream, "0\r\n\r\n")) {
                co_return;
            }
        }
    }

    template <class Stream>
    static net::awaitable<bool> write(Stream& stream, std::string text) {
        auto [ec, n] = co_await net::async_write(stream, net::buffer(text), k_use);
        co_return !ec;
    }

    // Until the server stops.
    net::awaitable<void> hang() {
        net::steady_timer timer(m_io, std::chrono::hours(1));
        std::ignore = co_await timer.async_wait(k_use);
    }

    Handler m_handler;
    ssl::context* m_tls;
    net::io_context m_io;
    tcp::acceptor m_acceptor;
    std::thread m_thread;
    mutable std::mutex m_mutex;
    std::size_t m_connections = 0;
    std::vector<Seen> m_seen;
};

// ---------------------------------------------------------------------------------------------

// Runs a test coroutine to its end on the test's own io_context; failed assertions inside it
// propagate as exceptions.
template <class F>
void run(net::io_context& io, F&& test) {
    std::exception_ptr failure;
    net::co_spawn(io, std::forward<F>(test), [&](std::exception_ptr e) { failure = e; });
    io.restart();
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

struct Body {
    error_code error;
    std::string text;
    std::size_t reads = 0;  // read_some calls that returned bytes
};

net::awaitable<Body> read_all(Response& response, std::size_t piece = 1000) {
    Body body;
    std::vector<char> buffer(piece);
    while (true) {
        auto [ec, n] = co_await response.read_some(net::buffer(buffer));
        if (ec) {
            body.error = ec;
            co_return body;
        }
        if (n == 0) {
            co_return body;
        }
        ++body.reads;
        body.text.append(buffer.data(), n);
    }
}

config::UpstreamConfig make_config(const std::string& url) {
    config::UpstreamConfig config;
    config.name = "test";
    config.url = url;
    config.connect_timeout = std::chrono::seconds(2);
    config.read_timeout = std::chrono::seconds(2);
    config.retries = 2;
    return config;
}

Request get(std::string target, std::string scope = {}) {
    Request request;
    request.target = std::move(target);
    request.scope = std::move(scope);
    return request;
}

std::string random_bytes(std::size_t size) {
    std::mt19937 random(42);
    std::string out(size, '\0');
    for (auto& c : out) {
        c = static_cast<char>(random() & 0xff);
    }
    return out;
}

std::string base64(std::string_view text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Sets an environment variable for the life of the object.
class ScopedEnv {
  public:
    ScopedEnv(std::string name, const std::string& value) : m_name(std::move(name)) {
        ::setenv(m_name.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() { ::unsetenv(m_name.c_str()); }

  private:
    std::string m_name;
};

// Collects what is written to stderr (file descriptor 2) while it lives.
class StderrCapture {
  public:
    StderrCapture() : m_file(std::tmpfile()) {
        std::fflush(stderr);
        m_saved = ::dup(2);
        ::dup2(::fileno(m_file), 2);
    }
    ~StderrCapture() {
        restore();
        std::fclose(m_file);
    }
    std::string text() {
        restore();
        std::string out;
        std::rewind(m_file);
        std::array<char, 4096> buffer{};
        while (const auto n = std::fread(buffer.data(), 1, buffer.size(), m_file)) {
            out.append(buffer.data(), n);
        }
        return out;
    }

  private:
    void restore() {
        if (m_saved >= 0) {
            std::fflush(stderr);
            ::dup2(m_saved, 2);
            ::close(m_saved);
            m_saved = -1;
        }
    }
    std::FILE* m_file;
    int m_saved = -1;
};

std::uint16_t closed_port() {
    net::io_context io;
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("a chunked body read in small pieces arrives whole", "[upstream]") {
    const auto blob = random_bytes(300'000);
    TestServer server([&](const auto&) {
        Reply reply;
        reply.body = blob;
        reply.chunk_size = 7000;
        return reply;
    });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE(response);
        CHECK((*response)->status() == 200);
        CHECK_FALSE((*response)->content_length());
        const auto body = co_await read_all(**response);
        CHECK_FALSE(body.error);
        CHECK(body.text == blob);
        CHECK(body.reads >= 300);
    });
}

TEST_CASE("a body with Content-Length reports its length and arrives whole", "[upstream]") {
    const auto blob = random_bytes(1'000'000);
    TestServer server([&](const auto&) { return answer(blob); });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE(response);
        CHECK((*response)->content_length() == blob.size());
        const auto body = co_await read_all(**response, 64 * 1024);
        CHECK_FALSE(body.error);
        CHECK(body.text == blob);
    });
}

TEST_CASE("the configured url's path is put before every request target", "[upstream]") {
    TestServer server([](const auto&) { return answer("ok"); });
    net::io_context io;
    auto client =
        proxy::upstream::make_client(io.get_executor(), make_config(server.url() + "/mirror/"));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE(response);
        const auto body1 = co_await read_all(**response);
        CHECK(body1.text == "ok");
    });
    REQUIRE(server.requests().size() == 1);
    CHECK(server.requests()[0].target == "/mirror/v2/a/manifests/1");
    CHECK(server.requests()[0].host == "127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("sequential requests whose bodies were read reuse one connection", "[upstream]") {
    TestServer server([](const auto&) { return answer("hello"); });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(response);
            const auto body2 = co_await read_all(**response);
            CHECK(body2.text == "hello");
        }
    });
    CHECK(server.requests().size() == 3);
    CHECK(server.connections() == 1);
}

TEST_CASE("a kept-alive connection the server closed meanwhile is replaced without a retry",
          "[upstream]") {
    TestServer server([](const auto&) {
        auto reply = answer("fresh");
        reply.close_after = true;
        return reply;
    });
    auto config = make_config(server.url());
    config.retries = 0;
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(response);
            const auto body = co_await read_all(**response);
            CHECK(body.text == "fresh");
        }
    });
    CHECK(server.requests().size() == 3);
    CHECK(server.connections() == 3);
}

TEST_CASE("concurrent requests from several threads each get a connection, kept for reuse",
          "[upstream]") {
    TestServer server([](const http::request<http::string_body>& request) {
        return answer("body of " + std::string(request.target()));
    });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    std::mutex mutex;
    std::vector<std::string> failures;
    constexpr int k_requests = 8;
    for (int i = 0; i < k_requests; ++i) {
        net::co_spawn(
            io,
            [&, i]() -> net::awaitable<void> {
                const auto target = "/v2/a/blobs/" + std::to_string(i);
                auto response = co_await client->send(get(target));
                Body body;
                if (response) {
                    body = co_await read_all(**response);
                }
                if (!response || body.error || body.text != "body of " + target) {
                    std::lock_guard lock(mutex);
                    failures.push_back(target);
                }
            },
            net::detached);
    }
    std::thread other([&] { io.run(); });
    io.run();
    other.join();
    CHECK(failures.empty());
    const auto connections = server.connections();
    CHECK(connections <= k_requests);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/0"));
        REQUIRE(response);
        const auto body = co_await read_all(**response);
        CHECK(body.text == "body of /v2/a/blobs/0");
    });
    CHECK(server.connections() == connections);
}

TEST_CASE("a response dropped before its end does not give its connection back", "[upstream]") {
    const auto blob = random_bytes(200'000);
    TestServer server([&](const auto&) { return answer(blob); });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        {
            auto response = co_await client->send(get("/v2/a/blobs/x"));
            REQUIRE(response);
            std::array<char, 10> some{};
            auto [ec, n] = co_await (*response)->read_some(net::buffer(some));
            CHECK_FALSE(ec);
            CHECK(n > 0);
        }
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE(response);
        const auto body3 = co_await read_all(**response, 65536);
        CHECK(body3.text == blob);
    });
    CHECK(server.connections() == 2);
}

TEST_CASE("HEAD gives the length without a body and leaves the connection reusable", "[upstream]") {
    TestServer server([](const http::request<http::string_body>& request) {
        Reply reply;
        if (request.method() == http::verb::head) {
            reply.headers = {{"Content-Length", "12345"}, {"Docker-Content-Digest", "sha256:ab"}};
            reply.no_content_length = true;
        } else {
            reply.body = "after";
        }
        return reply;
    });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto head = get("/v2/a/manifests/1");
        head.method = http::verb::head;
        auto response = co_await client->send(head);
        REQUIRE(response);
        CHECK((*response)->status() == 200);
        CHECK((*response)->content_length() == 12345);
        CHECK((*response)->headers()["Docker-Content-Digest"] == "sha256:ab");
        const auto body = co_await read_all(**response);
        CHECK_FALSE(body.error);
        CHECK(body.text.empty());
        response->reset();
        auto next = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE(next);
        const auto body4 = co_await read_all(**next);
        CHECK(body4.text == "after");
    });
    CHECK(server.connections() == 1);
}

TEST_CASE("a bearer challenge is answered with a token that is cached for its scope",
          "[upstream]") {
    std::string realm;
    TestServer server([&](const http::request<http::string_body>& request) {
        Reply reply;
        if (request.target().starts_with("/token")) {
            if (request[http::field::authorization] != "Basic " + base64("alice:pw-1")) {
                reply.status = 401;
                return reply;
            }
            reply.body = R"({"token":"tok-1","expires_in":300})";
            return reply;
        }
        if (request[http::field::authorization] != "Bearer tok-1") {
            reply.status = 401;
            reply.headers = {
                {"WWW-Authenticate",
                 "Bearer realm=\"" + realm + "\",service=\"reg\",scope=\"repository:a:pull\""}};
            reply.body = R"({"errors":[{"code":"UNAUTHORIZED"}]})";
            return reply;
        }
        reply.body = "manifest";
        return reply;
    });
    realm = server.url() + "/token";
    const ScopedEnv password("ENVCACHE_TEST_UPSTREAM_PW", "pw-1");
    auto config = make_config(server.url());
    config.username = "alice";
    config.password_env = "ENVCACHE_TEST_UPSTREAM_PW";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1", "repository:a:pull"));
            REQUIRE(response);
            CHECK((*response)->status() == 200);
            const auto body5 = co_await read_all(**response);
            CHECK(body5.text == "manifest");
        }
    });
    const auto seen = server.requests();
    REQUIRE(seen.size() == 4);  // 401, token, retry with the token, then the cached token
    CHECK(seen[0].authorization.empty());
    CHECK(seen[1].target == "/token?service=reg&scope=repository:a:pull");
    CHECK(seen[1].authorization == "Basic " + base64("alice:pw-1"));
    CHECK(seen[2].authorization == "Bearer tok-1");
    CHECK(seen[3].authorization == "Bearer tok-1");
    CHECK(server.count("/token") == 1);
}

TEST_CASE("an anonymous bearer challenge takes the scope from the challenge", "[upstream]") {
    std::string realm;
    TestServer server([&](const http::request<http::string_body>& request) {
        Reply reply;
        if (request.target().starts_with("/token")) {
            reply.body = R"({"access_token":"anon"})";
        } else if (request[http::field::authorization] != "Bearer anon") {
            reply.status = 401;
            reply.headers = {
                {"WWW-Authenticate", "Bearer realm=\"" + realm + "\",scope=\"repository:b:pull\""}};
        } else {
            reply.body = "ok";
        }
        return reply;
    });
    realm = server.url() + "/token";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/b/tags/list"));
        REQUIRE(response);
        CHECK((*response)->status() == 200);
    });
    const auto seen = server.requests();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].target == "/token?scope=repository:b:pull");
    CHECK(seen[1].authorization.empty());
}

TEST_CASE("a basic challenge is answered with the configured credentials", "[upstream]") {
    TestServer server([&](const http::request<http::string_body>& request) {
        Reply reply;
        if (request[http::field::authorization] != "Basic " + base64("bob:pw-2")) {
            reply.status = 401;
            reply.headers = {{"WWW-Authenticate", "Basic realm=\"registry\""}};
        } else {
            reply.body = "ok";
        }
        return reply;
    });
    const ScopedEnv password("ENVCACHE_TEST_UPSTREAM_PW", "pw-2");
    auto config = make_config(server.url());
    config.username = "bob";
    config.password_env = "ENVCACHE_TEST_UPSTREAM_PW";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(response);
            CHECK((*response)->status() == 200);
            const auto body6 = co_await read_all(**response);
            CHECK(body6.text == "ok");
        }
    });
    CHECK(server.requests().size() == 3);  // the second request sends the credentials at once
}

TEST_CASE("refused credentials give the 401 as a value", "[upstream]") {
    TestServer server([&](const auto&) {
        Reply reply;
        reply.status = 401;
        reply.headers = {{"WWW-Authenticate", "Basic realm=\"registry\""}};
        reply.body = "denied";
        return reply;
    });
    auto config = make_config(server.url());
    config.username = "bob";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE(response);
        CHECK((*response)->status() == 401);
        const auto body7 = co_await read_all(**response);
        CHECK(body7.text == "denied");
    });
    CHECK(server.requests().size() == 2);
}

TEST_CASE("a redirect to another host is followed without the Authorization header", "[upstream]") {
    TestServer storage([](const auto&) { return answer("blob bytes"); });
    std::string realm;
    TestServer registry([&](const http::request<http::string_body>& request) {
        Reply reply;
        if (request.target().starts_with("/token")) {
            reply.body = R"({"token":"tok-3"})";
        } else if (request[http::field::authorization] != "Bearer tok-3") {
            reply.status = 401;
            reply.headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\""}};
        } else {
            reply.status = 307;
            reply.headers = {{"Location", storage.url() + "/bucket/blob?X-Signature=abc"}};
        }
        return reply;
    });
    realm = registry.url() + "/token";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(registry.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/sha256:1", "repository:a:pull"));
        REQUIRE(response);
        CHECK((*response)->status() == 200);
        const auto body8 = co_await read_all(**response);
        CHECK(body8.text == "blob bytes");
    });
    REQUIRE(storage.requests().size() == 1);
    CHECK(storage.requests()[0].target == "/bucket/blob?X-Signature=abc");
    CHECK(storage.requests()[0].authorization.empty());
    CHECK(storage.requests()[0].host == "127.0.0.1:" + std::to_string(storage.port()));
    CHECK(registry.requests().back().authorization == "Bearer tok-3");
}

TEST_CASE("a relative redirect on the same host keeps the credentials", "[upstream]") {
    TestServer server([](const http::request<http::string_body>& request) {
        Reply reply;
        if (request[http::field::authorization] != "Basic " + base64("carol:")) {
            reply.status = 401;
            reply.headers = {{"WWW-Authenticate", "Basic realm=\"r\""}};
        } else if (request.target() == "/v2/a/blobs/x") {
            reply.status = 302;
            reply.headers = {{"Location", "/moved/x"}};
        } else {
            reply.body = "moved";
        }
        return reply;
    });
    auto config = make_config(server.url());
    config.username = "carol";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE(response);
        const auto body9 = co_await read_all(**response);
        CHECK(body9.text == "moved");
    });
    CHECK(server.requests().back().target == "/moved/x");
    CHECK(server.connections() == 1);
}

TEST_CASE("a redirect loop ends in an error", "[upstream]") {
    TestServer server([](const auto&) {
        auto reply = answer("", 302);
        reply.headers = {{"Location", "/again"}};
        return reply;
    });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE_FALSE(response);
        CHECK(response.error() == proxy::upstream::Error::too_many_redirects);
    });
    CHECK(server.requests().size() == 6);
}

TEST_CASE("5xx answers are retried and the later success returned", "[upstream]") {
    int calls = 0;
    TestServer server(
        [&](const auto&) { return ++calls <= 2 ? answer("busy", 503) : answer("ok"); });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE(response);
        CHECK((*response)->status() == 200);
        const auto body10 = co_await read_all(**response);
        CHECK(body10.text == "ok");
    });
    CHECK(server.requests().size() == 3);
    CHECK(server.connections() == 1);  // the 5xx bodies were read, the connection kept
}

TEST_CASE("a 5xx that persists is returned as a status after the retries", "[upstream]") {
    TestServer server([&](const auto&) { return answer("bad gateway", 502); });
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config(server.url()));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE(response);
        CHECK((*response)->status() == 502);
        const auto body11 = co_await read_all(**response);
        CHECK(body11.text == "bad gateway");
    });
    CHECK(server.requests().size() == 3);  // first attempt and two retries
}

TEST_CASE("a refused connection is an error after the retries", "[upstream]") {
    auto config = make_config("http://127.0.0.1:" + std::to_string(closed_port()));
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    const auto start = std::chrono::steady_clock::now();
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/"));
        REQUIRE_FALSE(response);
        CHECK(response.error() == net::error::connection_refused);
    });
    // Two retries after 100 ms and 200 ms of backoff.
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
}

TEST_CASE("a body that stalls fails after the read timeout", "[upstream]") {
    TestServer server([](const auto&) {
        auto reply = answer(std::string(1000, 'x'));
        reply.stall_after = 10;
        return reply;
    });
    auto config = make_config(server.url());
    config.read_timeout = std::chrono::seconds(1);
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE(response);
        const auto start = std::chrono::steady_clock::now();
        const auto body = co_await read_all(**response);
        CHECK(body.text == std::string(10, 'x'));
        CHECK(body.error == beast::error::timeout);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
        // The failed response keeps failing instead of reporting an end.
        std::array<char, 10> more{};
        auto [ec, n] = co_await (*response)->read_some(net::buffer(more));
        CHECK(ec);
        CHECK(n == 0);
    });
}

TEST_CASE("an answer whose header never comes fails after the read timeout", "[upstream]") {
    TestServer server([](const auto&) {
        Reply reply;
        reply.stall_before_header = true;
        return reply;
    });
    auto config = make_config(server.url());
    config.read_timeout = std::chrono::seconds(1);
    config.retries = 0;
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/a/blobs/x"));
        REQUIRE_FALSE(response);
        CHECK(response.error() == beast::error::timeout);
    });
}

TEST_CASE("a request with a timeout of its own gives up within it, with no retry", "[upstream]") {
    TestServer server([](const auto&) {
        Reply reply;
        reply.stall_before_header = true;
        return reply;
    });
    auto config = make_config(server.url());
    config.read_timeout = std::chrono::seconds(30);
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    const auto start = std::chrono::steady_clock::now();
    run(io, [&]() -> net::awaitable<void> {
        Request request = get("/v2/a/manifests/1");
        request.method = http::verb::head;
        request.timeout = std::chrono::milliseconds(300);
        request.retry = false;
        auto response = co_await client->send(std::move(request));
        REQUIRE_FALSE(response);
        CHECK(response.error() == beast::error::timeout);
    });
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    CHECK(server.requests().size() == 1);
}

TEST_CASE("an open circuit breaker refuses requests without sending them", "[upstream]") {
    TestServer server([](const auto&) { return answer("down", 503); });
    auto config = make_config(server.url());
    config.retries = 0;
    config.breaker_failures = 2;
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(response);
            CHECK((*response)->status() == 503);
            std::ignore = co_await read_all(**response);
        }
        auto refused = co_await client->send(get("/v2/a/manifests/1"));
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == proxy::upstream::Error::circuit_open);
    });
    CHECK(server.requests().size() == 2);
    REQUIRE(client->health() != nullptr);
    CHECK(client->health()->snapshot().state == proxy::upstream::Health::State::open);
    CHECK(client->health()->snapshot().refused == 1);
}

TEST_CASE("retries stop once the upstream's retry budget is spent", "[upstream]") {
    TestServer server([](const auto&) { return answer("down", 503); });
    auto config = make_config(server.url());
    config.retries = 3;
    config.breaker_failures = 0;
    config.retry_budget = 0;  // only the floor of 10 retries
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 5; ++i) {
            auto response = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(response);
            CHECK((*response)->status() == 503);
            std::ignore = co_await read_all(**response);
        }
    });
    // 5 first attempts and the floor's 10 retries, not 5 × 3.
    CHECK(server.requests().size() == 15);
    CHECK(client->health()->snapshot().retries_refused == 2);
}

TEST_CASE("a url that is not http or https is an error for every request", "[upstream]") {
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), make_config("ftp://host/"));
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/"));
        REQUIRE_FALSE(response);
        CHECK(response.error() == proxy::upstream::Error::bad_url);
    });
}

TEST_CASE("a url the config loader refuses is an error for every request, logged without secrets",
          "[upstream]") {
    StderrCapture capture;
    {
        net::io_context io;
        auto with_credentials = proxy::upstream::make_client(
            io.get_executor(), make_config("http://robot:pw-5ecret@127.0.0.1:1"));
        auto with_query =
            proxy::upstream::make_client(io.get_executor(), make_config("http://127.0.0.1:1/?x"));
        run(io, [&]() -> net::awaitable<void> {
            for (auto* client : {with_credentials.get(), with_query.get()}) {
                auto response = co_await client->send(get("/v2/"));
                REQUIRE_FALSE(response);
                CHECK(response.error() == proxy::upstream::Error::bad_url);
            }
        });
    }
    const auto log = capture.text();
    CHECK(log.find("must not contain credentials") != std::string::npos);
    CHECK(log.find("must not have a query") != std::string::npos);
    CHECK(log.find("5ecret") == std::string::npos);
}

TEST_CASE("credentials, tokens and query strings appear in no log line or error message",
          "[upstream]") {
    std::string realm;
    bool grant = false;
    TestServer server([&](const http::request<http::string_body>& request) {
        Reply reply;
        if (request.target().starts_with("/token")) {
            reply.status = grant ? 200 : 401;
            reply.body = grant ? R"({"token":"tok-5ecret-9"})" : "no";
            return reply;
        }
        reply.status = 401;
        reply.headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\""}};
        return reply;
    });
    const ScopedEnv password("ENVCACHE_TEST_UPSTREAM_PW", "pw-5ecret-1");
    auto config = make_config(server.url());
    config.username = "dave";
    config.password_env = "ENVCACHE_TEST_UPSTREAM_PW";
    config.retries = 0;
    std::vector<std::string> messages;
    StderrCapture capture;
    {
        net::io_context io;
        auto client = proxy::upstream::make_client(io.get_executor(), config);
        run(io, [&]() -> net::awaitable<void> {
            // The token endpoint refuses the credentials.
            realm = server.url() + "/token?sig=q-5ecret-2";
            auto refused = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(refused);
            CHECK((*refused)->status() == 401);
            // A token is granted but the registry refuses it.
            grant = true;
            auto denied = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(denied);
            CHECK((*denied)->status() == 401);
            // The realm cannot be reached.
            realm = "http://127.0.0.1:" + std::to_string(closed_port()) + "/t?sig=q-5ecret-3";
            auto unreachable = co_await client->send(get("/v2/a/manifests/1"));
            REQUIRE(unreachable);
            CHECK((*unreachable)->status() == 401);
            // The registry itself cannot be reached.
            auto other = make_config("http://127.0.0.1:" + std::to_string(closed_port()));
            other.username = "dave";
            other.password_env = "ENVCACHE_TEST_UPSTREAM_PW";
            other.retries = 0;
            auto offline = proxy::upstream::make_client(io.get_executor(), other);
            auto failed = co_await offline->send(get("/v2/a/manifests/1"));
            REQUIRE_FALSE(failed);
            messages.push_back(failed.error().message());
        });
    }
    const auto log = capture.text();
    CHECK(log.find("token endpoint") != std::string::npos);
    CHECK(log.find("authorization refused") != std::string::npos);
    for (const auto& text : messages) {
        CHECK(text.find("5ecret") == std::string::npos);
    }
    CHECK(log.find("5ecret") == std::string::npos);
    CHECK(log.find(base64("dave:pw-5ecret-1")) == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// TLS against a certificate made for the test.

namespace {

struct TestCertificate {
    std::string certificate_pem;
    std::string key_pem;
};

// A self-signed certificate for the given subjectAltName ("IP:127.0.0.1", "DNS:localhost").
TestCertificate make_certificate(const char* subject_alt_name) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), X509_free);
    X509_set_version(certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24 * 3600);
    X509_set_pubkey(certificate.get(), key.get());
    X509_NAME* name = X509_get_subject_name(certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("envcache test"), -1, -1, 0);
    X509_set_issuer_name(certificate.get(), name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate.get(), certificate.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_name},
                                     std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
        X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
        REQUIRE(extension);
        X509_add_ext(certificate.get(), extension, -1);
        X509_EXTENSION_free(extension);
    }
    REQUIRE(X509_sign(certificate.get(), key.get(), EVP_sha256()) > 0);

    auto to_pem = [](auto write) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
        write(bio.get());
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(size));
    };
    TestCertificate out;
    out.certificate_pem = to_pem([&](BIO* bio) { PEM_write_bio_X509(bio, certificate.get()); });
    out.key_pem = to_pem([&](BIO* bio) {
        PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return out;
}

class TlsFixture {
  public:
    explicit TlsFixture(const char* subject_alt_name)
        : m_certificate(make_certificate(subject_alt_name)),
          m_context(ssl::context::tls_server),
          m_ca_file(std::filesystem::temp_directory_path() /
                    ("envcache-upstream-ca-" + std::to_string(::getpid()) + ".pem")) {
        m_context.use_certificate_chain(net::buffer(m_certificate.certificate_pem));
        m_context.use_private_key(net::buffer(m_certificate.key_pem), ssl::context::pem);
        std::ofstream(m_ca_file) << m_certificate.certificate_pem;
    }
    ~TlsFixture() { std::filesystem::remove(m_ca_file); }

    ssl::context& context() { return m_context; }
    std::string ca_file() const { return m_ca_file.string(); }

  private:
    TestCertificate m_certificate;
    ssl::context m_context;
    std::filesystem::path m_ca_file;
};

}  // namespace

TEST_CASE("TLS: a certificate from ca_file is trusted, the same one without it is not",
          "[upstream]") {
    TlsFixture tls("IP:127.0.0.1");
    TestServer server([](const auto&) { return answer("secure"); }, &tls.context());
    net::io_context io;
    auto trusting_config = make_config(server.url());
    trusting_config.ca_file = tls.ca_file();
    auto trusting = proxy::upstream::make_client(io.get_executor(), trusting_config);
    auto distrusting_config = make_config(server.url());
    distrusting_config.retries = 0;
    auto distrusting = proxy::upstream::make_client(io.get_executor(), distrusting_config);
    run(io, [&]() -> net::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto response = co_await trusting->send(get("/v2/"));
            REQUIRE(response);
            CHECK((*response)->status() == 200);
            const auto body12 = co_await read_all(**response);
            CHECK(body12.text == "secure");
        }
        auto refused = co_await distrusting->send(get("/v2/"));
        CHECK_FALSE(refused);
    });
    CHECK(server.connections() == 2);  // one kept-alive TLS connection, one refused handshake
}

TEST_CASE("TLS: an unreadable ca_file is an error, not a silent fallback", "[upstream]") {
    auto config = make_config("https://127.0.0.1:" + std::to_string(closed_port()));
    config.ca_file = "/nonexistent/envcache-ca.pem";
    net::io_context io;
    auto client = proxy::upstream::make_client(io.get_executor(), config);
    run(io, [&]() -> net::awaitable<void> {
        auto response = co_await client->send(get("/v2/"));
        REQUIRE_FALSE(response);
        CHECK(response.error() == proxy::upstream::Error::bad_ca_file);
    });
}

TEST_CASE("TLS: a certificate for another host name is refused, unless verification is off",
          "[upstream]") {
    TlsFixture tls("DNS:registry.invalid");
    TestServer server([](const auto&) { return answer("secure"); }, &tls.context());
    net::io_context io;
    auto checked_config = make_config(server.url());
    checked_config.ca_file = tls.ca_file();
    checked_config.retries = 0;
    auto checked = proxy::upstream::make_client(io.get_executor(), checked_config);
    auto insecure_config = make_config(server.url());
    insecure_config.insecure_skip_verify = true;
    auto insecure = proxy::upstream::make_client(io.get_executor(), insecure_config);
    run(io, [&]() -> net::awaitable<void> {
        auto refused = co_await checked->send(get("/v2/"));
        CHECK_FALSE(refused);
        auto response = co_await insecure->send(get("/v2/"));
        REQUIRE(response);
        const auto body13 = co_await read_all(**response);
        CHECK(body13.text == "secure");
    });
}
