// The listener over TLS, against a client on loopback: the verified client certificate's names
// reach the handler, a client without one is refused under `require`, and a new context serves
// new connections while an open one keeps its own.

#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cache/hot_blobs.hpp"
#include "config/config.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/server/server.hpp"
#include "proxy/server/tls_channel.hpp"
#include "proxy/server/tls_context.hpp"
#include "store/sha256.hpp"
#include "tests/common/temp_dir.hpp"
#include "tests/common/test_certificate.hpp"
#include "tests/proxy/server_test_util.hpp"

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

std::shared_ptr<ssl::context> context_of(const config::TlsConfig& tls) {
    auto made = proxy::server::make_tls_context(tls);
    if (!made) FAIL(made.error());
    return *made;
}

// A server whose handler answers with the client certificate's names, joined by commas.
struct TlsServer {
    // `loops`: loops of the server's own (every one takes connections); 0 runs on `ioc`.
    explicit TlsServer(const config::TlsConfig& tls, unsigned loops = 0)
        : server(ioc, config, answer, loops) {
        config.tls = tls;
        server.set_tls_context(context_of(tls));
        port = server.listen("127.0.0.1", 0).value().port();
        server.start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~TlsServer() { proxy::test::shut_down(server, ioc, thread); }

    // The body stream_body writes: three pieces, each a different byte.
    static std::string streamed_body() {
        return std::string(40000, 'a') + std::string(40000, 'b') + std::string(40000, 'c');
    }

    // GET /length/eager, /length/deferred, /chunked/eager or /chunked/deferred: the body in
    // pieces through a BodyWriter, with Content-Length or chunked, the head sent on its own
    // first (eager) or with the first piece (deferred).
    static net::awaitable<void> stream_body(proxy::server::Exchange& ex) {
        const std::string_view target = ex.request.target();
        const std::string body = streamed_body();
        const bool chunked = target.starts_with("/chunked");
        const http::fields none;
        proxy::server::BodyWriter writer(
            ex, http::status::ok, none,
            chunked ? std::nullopt : std::optional<std::uint64_t>(body.size()));
        if (target.ends_with("/eager") && !co_await writer.write_header()) co_return;
        for (std::size_t at = 0; at < body.size(); at += 40000)
            if (!co_await writer.write({body.data() + at, 40000})) co_return;
        co_await writer.finish();
    }

    // What GET /large answers: more than one TLS write takes (TlsChannel::k_max_write).
    static std::string large_body() {
        std::string body(4 * proxy::server::TlsChannel::k_max_write + 7, '\0');
        for (std::size_t i = 0; i < body.size(); ++i)
            body[i] = static_cast<char>('a' + (i * 7919) % 26);
        return body;
    }

    // What GET /file answers: large_body() from a sealed file, through write_file (under TLS
    // the bytes are read and encrypted, not sent with sendfile).
    static net::awaitable<void> send_file(proxy::server::Exchange& ex) {
        const std::string body = large_body();
        auto file = cache::HotBlob::create(body.size(), "");
        if (!file || !(*file)->append(body) || !(*file)->seal(store::Sha256::of(body))) co_return;
        const http::fields none;
        proxy::server::BodyWriter writer(ex, http::status::ok, none, body.size());
        if (!co_await writer.write_file((*file)->fd(), 0, body.size())) co_return;
        co_await writer.finish();
    }

    static net::awaitable<void> answer(proxy::server::Exchange& ex) {
        if (ex.request.target() == "/thread") {
            std::ostringstream id;
            id << std::this_thread::get_id();
            const http::fields none;
            co_await proxy::server::send_response(ex, http::status::ok, none, id.str());
            co_return;
        }
        if (ex.request.target() == "/file") {
            co_await send_file(ex);
            co_return;
        }
        if (ex.request.target() == "/large") {
            const http::fields none;
            co_await proxy::server::send_response(ex, http::status::ok, none, large_body());
            co_return;
        }
        if (ex.request.target() != "/") {
            co_await stream_body(ex);
            co_return;
        }
        std::string names;
        for (const auto& name : ex.client_cert_names)
            names += (names.empty() ? "" : ",") + name;
        const http::fields none;
        co_await proxy::server::send_response(ex, http::status::ok, none, names);
    }

    static config::ServerConfig every_loop() {
        config::ServerConfig c;
        c.scale_loops = false;
        return c;
    }

    net::io_context ioc;
    config::ServerConfig config = every_loop();
    proxy::server::Server server;
    unsigned short port = 0;
    std::thread thread;
};

// A client trusting `server_cert` (a file), with a client certificate if `cert` is not empty.
struct Client {
    Client(unsigned short port, const std::string& server_cert, const std::string& cert = "",
           const std::string& key = "")
        : context(make_context(server_cert, cert, key)), stream(ioc, context) {
        stream.set_verify_mode(ssl::verify_peer);
        stream.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    }
    // The stream copies the certificate and key when it is made: they go in first.
    static ssl::context make_context(const std::string& server_cert, const std::string& cert,
                                     const std::string& key) {
        ssl::context context(ssl::context::tls_client);
        context.load_verify_file(server_cert);
        if (!cert.empty()) {
            context.use_certificate_chain_file(cert);
            context.use_private_key_file(key, ssl::context::pem);
        }
        return context;
    }
    // The body of GET / (handshake first), or the error that ended it.
    std::string get(boost::system::error_code& ec, const std::string& target = "/") {
        stream.handshake(ssl::stream_base::client, ec);
        if (ec) return {};
        http::request<http::string_body> request{http::verb::get, target, 11};
        request.set(http::field::host, "127.0.0.1");
        http::write(stream, request, ec);
        if (ec) return {};
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> response;
        http::read(stream, buffer, response, ec);
        return response.body();
    }
    std::string peer_common_name() {
        X509* cert = SSL_get0_peer_certificate(stream.native_handle());
        char name[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
        return name;
    }

    net::io_context ioc;
    ssl::context context;
    ssl::stream<tcp::socket> stream;
};

// server.tls for `server`'s files written into `dir`, with `client_ca` (a self-signed client
// certificate is its own CA) and `auth`.
config::TlsConfig tls_files(const test_util::TempDir& dir, const test_util::TestCertificate& server,
                            const test_util::TestCertificate& client_ca, config::ClientAuth auth) {
    config::TlsConfig tls;
    tls.cert_file = dir.write("server.crt", server.cert_pem);
    tls.key_file = dir.write("server.key", server.key_pem);
    tls.client_ca_file = dir.write("client.crt", client_ca.cert_pem);
    tls.client_auth = auth;
    return tls;
}

// server.tls with a certificate for envcache.test written into `dir`, no client certificates.
config::TlsConfig server_certificate_only(const test_util::TempDir& dir) {
    const auto server_cert = test_util::make_test_certificate("envcache.test");
    config::TlsConfig tls;
    tls.cert_file = dir.write("server.crt", server_cert.cert_pem);
    tls.key_file = dir.write("server.key", server_cert.key_pem);
    return tls;
}

}  // namespace

TEST_CASE("the handler sees a verified client certificate's CN, then its SANs", "[server]") {
    test_util::TempDir dir;
    const auto server_cert = test_util::make_test_certificate("envcache.test");
    const auto client_cert =
        test_util::make_test_certificate("ci-runner", "DNS:runner.example,IP:10.0.0.7");
    const auto tls = tls_files(dir, server_cert, client_cert, config::ClientAuth::optional);
    const auto client_key = dir.write("client.key", client_cert.key_pem);
    TlsServer server(tls);

    boost::system::error_code ec;
    Client with(server.port, tls.cert_file, tls.client_ca_file, client_key);
    CHECK(with.get(ec) == "ci-runner,runner.example,10.0.0.7");
    CHECK_FALSE(ec);

    // `optional`: served, with no names.
    Client without(server.port, tls.cert_file);
    CHECK(without.get(ec).empty());
    CHECK_FALSE(ec);
}

TEST_CASE("under client_auth require a client without a certificate gets no response", "[server]") {
    test_util::TempDir dir;
    const auto server_cert = test_util::make_test_certificate("envcache.test");
    const auto client_cert = test_util::make_test_certificate("ci-runner");
    const auto tls = tls_files(dir, server_cert, client_cert, config::ClientAuth::require);
    TlsServer server(tls);

    boost::system::error_code ec;
    Client without(server.port, tls.cert_file);
    CHECK(without.get(ec).empty());
    CHECK(ec);  // TLS 1.3: the client's handshake ends first, the server's alert comes on read
}

TEST_CASE("a new TLS context serves new connections; an open one keeps its certificate",
          "[server]") {
    test_util::TempDir dir;
    const auto first = test_util::make_test_certificate("first.test");
    const auto second = test_util::make_test_certificate("second.test");
    config::TlsConfig tls;
    tls.cert_file = dir.write("first.crt", first.cert_pem);
    tls.key_file = dir.write("first.key", first.key_pem);
    const auto trusted = dir.write("both.crt", first.cert_pem + second.cert_pem).string();
    TlsServer server(tls);

    boost::system::error_code ec;
    Client open(server.port, trusted);
    CHECK(open.get(ec).empty());
    REQUIRE_FALSE(ec);
    CHECK(open.peer_common_name() == "first.test");

    config::TlsConfig renewed = tls;
    renewed.cert_file = dir.write("second.crt", second.cert_pem);
    renewed.key_file = dir.write("second.key", second.key_pem);
    server.server.set_tls_context(context_of(renewed));

    Client fresh(server.port, trusted);
    fresh.get(ec);
    REQUIRE_FALSE(ec);
    CHECK(fresh.peer_common_name() == "second.test");

    // The first connection is still open and still served, over its first handshake.
    http::request<http::string_body> again{http::verb::get, "/", 11};
    again.set(http::field::host, "127.0.0.1");
    http::write(open.stream, again, ec);
    REQUIRE_FALSE(ec);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(open.stream, buffer, response, ec);
    CHECK_FALSE(ec);
    CHECK(response.result() == http::status::ok);
}

TEST_CASE("a key that does not belong to the certificate gives no TLS context", "[server]") {
    test_util::TempDir dir;
    const auto one = test_util::make_test_certificate("one.test");
    const auto other = test_util::make_test_certificate("other.test");
    config::TlsConfig tls;
    tls.cert_file = dir.write("one.crt", one.cert_pem);
    tls.key_file = dir.write("other.key", other.key_pem);
    const auto made = proxy::server::make_tls_context(tls);
    REQUIRE_FALSE(made);
    CHECK(made.error().find("other.key") != std::string::npos);
}

TEST_CASE(
    "over TLS a body arrives whole: in pieces, by length or chunked, larger than one write, or "
    "from a file",
    "[server]") {
    test_util::TempDir dir;
    const auto tls = server_certificate_only(dir);
    TlsServer server(tls);
    const std::vector<std::pair<std::string, std::string>> cases{
        {"/length/eager", TlsServer::streamed_body()},
        {"/length/deferred", TlsServer::streamed_body()},
        {"/chunked/eager", TlsServer::streamed_body()},
        {"/chunked/deferred", TlsServer::streamed_body()},
        {"/large", TlsServer::large_body()},  // one buffer, more than one TLS write takes
        {"/file", TlsServer::large_body()},   // write_file: read and encrypted, not sendfile
    };
    for (const auto& [target, body] : cases) {
        CAPTURE(target);
        boost::system::error_code ec;
        Client client(server.port, tls.cert_file);
        CHECK(client.get(ec, target) == body);
        CHECK_FALSE(ec);
    }
}

TEST_CASE("over TLS requests sent together are answered in order", "[server]") {
    test_util::TempDir dir;
    const auto tls = server_certificate_only(dir);
    TlsServer server(tls);
    boost::system::error_code ec;
    Client client(server.port, tls.cert_file);
    client.stream.handshake(ssl::stream_base::client, ec);
    REQUIRE_FALSE(ec);
    // Two requests in one TLS record: the second is read from what the first read left.
    const std::string two =
        "GET /length/deferred HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    net::write(client.stream, net::buffer(two), ec);
    REQUIRE_FALSE(ec);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> first;
    http::read(client.stream, buffer, first, ec);
    REQUIRE_FALSE(ec);
    CHECK(first.body() == TlsServer::streamed_body());
    http::response<http::string_body> second;
    http::read(client.stream, buffer, second, ec);
    REQUIRE_FALSE(ec);
    CHECK(second.result() == http::status::ok);
    CHECK(second.body().empty());  // no client certificate: no names
}

TEST_CASE("over TLS a client gone without close_notify ends its connection", "[server]") {
    test_util::TempDir dir;
    const auto tls = server_certificate_only(dir);
    TlsServer server(tls);
    {
        boost::system::error_code ec;
        Client client(server.port, tls.cert_file);
        client.stream.handshake(ssl::stream_base::client, ec);
        REQUIRE_FALSE(ec);
        const std::string half = "GET / HTTP/1.1\r\nHo";
        net::write(client.stream, net::buffer(half), ec);
        REQUIRE_FALSE(ec);
        client.stream.next_layer().close();  // TCP closed, no TLS close_notify
    }
    // The server notices (a truncated stream), not after its header timeout: bounded wait.
    CHECK(proxy::test::wait_for_connections(server.server, 0));
}

TEST_CASE("over TLS a connection moved to another loop between requests goes on", "[server]") {
    test_util::TempDir dir;
    const auto tls = server_certificate_only(dir);
    TlsServer server(tls, 2);
    boost::system::error_code ec;
    Client a(server.port, tls.cert_file);
    Client b(server.port, tls.cert_file);
    a.stream.handshake(ssl::stream_base::client, ec);
    REQUIRE_FALSE(ec);
    b.stream.handshake(ssl::stream_base::client, ec);
    REQUIRE_FALSE(ec);
    const auto get = [](Client& client, const std::string& target) {
        http::request<http::string_body> request{http::verb::get, target, 11};
        request.set(http::field::host, "127.0.0.1");
        http::write(client.stream, request);
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> response;
        http::read(client.stream, buffer, response);
        REQUIRE(response.result() == http::status::ok);
        return response.body();
    };
    const std::string loop_a = get(a, "/thread");
    const std::string loop_b = get(b, "/thread");
    REQUIRE(loop_a != loop_b);  // the first on loop 0, the second on loop 1

    server.server.set_active_loops(1);
    // It moves after the response it is sending when the loops change, or after the next.
    get(b, "/thread");
    CHECK(get(b, "/thread") == loop_a);
    // The TLS session goes on over the moved socket, large writes and streamed bodies too.
    CHECK(get(b, "/large") == TlsServer::large_body());
    CHECK(get(b, "/length/eager") == TlsServer::streamed_body());
    CHECK(get(a, "/thread") == loop_a);
}
