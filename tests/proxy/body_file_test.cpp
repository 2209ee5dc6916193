// A response body sent from a file (BodyWriter::write_file) over plain TCP: sendfile sends the
// bytes asked for, from an offset, across writes the socket cannot take at once; the
// connection stays open for the next request; a file that ends early or a client that stops
// reading ends the connection instead of hanging it.

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "cache/hot_blobs.hpp"
#include "config/config.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/server/server.hpp"
#include "store/sha256.hpp"
#include "tests/proxy/server_test_util.hpp"

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

// Larger than a loopback socket takes at once, so sendfile meets a full socket and waits.
std::string file_body() {
    std::string body(24 * 1024 * 1024 + 3, '\0');
    for (std::size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + (i * 7919 + i / 4096) % 26);
    return body;
}

std::shared_ptr<const cache::HotBlob> sealed_file(const std::string& bytes) {
    auto blob = cache::HotBlob::create(bytes.size(), "application/octet-stream");
    REQUIRE(blob.has_value());
    REQUIRE((*blob)->append(bytes).has_value());
    REQUIRE((*blob)->seal(store::Sha256::of(bytes)).has_value());
    return std::shared_ptr<const cache::HotBlob>(std::move(*blob));
}

// GET /whole: the file; /slice: 5000 bytes from 1000; /short: 100 bytes more than the file has.
struct FileServer {
    explicit FileServer(std::chrono::seconds write_timeout = std::chrono::seconds(30)) {
        // As `envcache serve` does: a sendfile to a client that left fails, not kills.
        ::signal(SIGPIPE, SIG_IGN);
        config.idle_timeout = write_timeout;
        port = server.listen("127.0.0.1", 0).value().port();
        server.start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~FileServer() { proxy::test::shut_down(server, ioc, thread); }

    net::awaitable<void> answer(proxy::server::Exchange& ex) {
        const std::string_view target = ex.request.target();
        std::uint64_t offset = 0;
        std::uint64_t length = body.size();
        if (target == "/slice") {
            offset = 1000;
            length = 5000;
        } else if (target == "/short") {
            length = body.size() + 100;
        }
        const http::fields none;
        proxy::server::BodyWriter writer(ex, http::status::ok, none, length);
        if (!co_await writer.write_file(file->fd(), offset, length)) co_return;
        co_await writer.finish();
    }

    const std::string body = file_body();
    const std::shared_ptr<const cache::HotBlob> file = sealed_file(body);
    net::io_context ioc;
    config::ServerConfig config;
    proxy::server::Server server{ioc, config,
                                 [this](proxy::server::Exchange& ex) { return answer(ex); }};
    unsigned short port = 0;
    std::thread thread;
};

struct Client {
    explicit Client(unsigned short port) : socket(ioc) {
        socket.connect({net::ip::make_address("127.0.0.1"), port});
    }
    void send(const std::string& target) {
        http::request<http::string_body> request{http::verb::get, target, 11};
        request.set(http::field::host, "127.0.0.1");
        http::write(socket, request);
    }
    // The response's body, or nullopt with `ec` set when it ended early.
    std::optional<std::string> receive(boost::system::error_code& ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        http::read(socket, buffer, parser, ec);
        if (ec) return std::nullopt;
        return parser.release().body();
    }

    net::io_context ioc;
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
};

}  // namespace

TEST_CASE("a file body goes out whole over plain TCP, and the connection serves the next request",
          "[server]") {
    FileServer server;
    Client client(server.port);
    for (int round = 0; round < 2; ++round) {
        client.send("/whole");
        boost::system::error_code ec;
        const auto body = client.receive(ec);
        REQUIRE_FALSE(ec);
        REQUIRE(body);
        CHECK(body->size() == server.body.size());
        CHECK(*body == server.body);
    }
}

TEST_CASE("a file body from an offset is that slice of the file", "[server]") {
    FileServer server;
    Client client(server.port);
    client.send("/slice");
    boost::system::error_code ec;
    const auto body = client.receive(ec);
    REQUIRE_FALSE(ec);
    CHECK(body == server.body.substr(1000, 5000));
}

TEST_CASE("a file that ends before the length promised ends the connection", "[server]") {
    FileServer server;
    Client client(server.port);
    client.send("/short");
    boost::system::error_code ec;
    const auto body = client.receive(ec);
    CHECK_FALSE(body);
    CHECK(ec == http::error::partial_message);
}

TEST_CASE("a client that stops reading a file body is dropped after the write timeout",
          "[server]") {
    FileServer server(std::chrono::seconds(1));
    Client client(server.port);
    client.send("/whole");
    // The client reads nothing; the server gives up on the write and ends the connection.
    REQUIRE(proxy::test::wait_for_connections(server.server, 1));
    CHECK(proxy::test::wait_for_connections(server.server, 0));
    boost::system::error_code ec;
    CHECK_FALSE(client.receive(ec));
    CHECK(ec);
}
