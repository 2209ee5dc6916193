#include "proxy/server/router.hpp"

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "proxy/cli/routes.hpp"
#include "proxy/server/server.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using proxy::server::Exchange;
using proxy::server::Router;

struct Reply {
    unsigned status = 0;
    std::string body;
    std::string allow;
};

// A router behind the real server on a loopback port; each handler answers with its name.
struct Served {
    explicit Served(Router router_) : router(std::move(router_)) {
        config.header_timeout = std::chrono::seconds(5);
        config.idle_timeout = std::chrono::seconds(5);
        server = std::make_unique<proxy::server::Server>(
            ioc, config, [this](Exchange& ex) { return router(ex); });
        port = server->listen("127.0.0.1", 0).value().port();
        server->start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~Served() {
        server->stop();
        server->close_all();
        thread.join();  // the loop runs dry once the acceptor and the connections are gone
    }

    Reply ask(http::verb method, const std::string& target) {
        net::io_context io;
        tcp::socket socket(io);
        socket.connect({net::ip::make_address("127.0.0.1"), port});
        http::request<http::empty_body> req{method, target, 11};
        req.set(http::field::host, "router.test");
        req.keep_alive(false);
        http::write(socket, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        if (method == http::verb::head) {
            http::response_parser<http::string_body> parser;
            parser.skip(true);
            http::read(socket, buffer, parser);
            res = parser.release();
        } else {
            http::read(socket, buffer, res);
        }
        return {res.result_int(), res.body(), std::string(res[http::field::allow])};
    }

    Router router;
    config::ServerConfig config;
    net::io_context ioc;
    std::unique_ptr<proxy::server::Server> server;
    std::uint16_t port = 0;
    std::thread thread;
};

Router::Handler answer(std::string name) {
    return [name](Exchange& ex) -> net::awaitable<void> {
        http::fields headers;
        headers.set(http::field::content_type, "text/plain");
        co_await proxy::server::send_response(ex, http::status::ok, headers, name);
    };
}

}  // namespace

TEST_CASE("the router sends each path to the route of its longest matching prefix",
          "[proxy][router]") {
    Router router;
    router.route("/a", {}, answer("a")).route("/a/b", {}, answer("ab"));
    CHECK(router.match("/a") == "/a");
    CHECK(router.match("/a/x?q=/a/b") == "/a");
    CHECK(router.match("/a/b/c") == "/a/b");
    CHECK(router.match("/a/bc") == "/a");
    CHECK(router.match("/ab").empty());
    CHECK(router.match("/").empty());

    Served served(std::move(router));
    CHECK(served.ask(http::verb::get, "/a/x").body == "a");
    CHECK(served.ask(http::verb::get, "/a/b/c?x=1").body == "ab");
    const auto missing = served.ask(http::verb::get, "/elsewhere");
    CHECK(missing.status == 404);
    CHECK(missing.body.find("\"NOT_FOUND\"") != std::string::npos);
}

TEST_CASE("a route with methods answers others 405 with Allow", "[proxy][router]") {
    Router router;
    router.route("/only-get", {http::verb::get, http::verb::head}, answer("get"));
    Served served(std::move(router));
    CHECK(served.ask(http::verb::get, "/only-get").status == 200);
    CHECK(served.ask(http::verb::head, "/only-get").status == 200);
    const auto put = served.ask(http::verb::put, "/only-get");
    CHECK(put.status == 405);
    CHECK(put.allow == "GET, HEAD");
    CHECK(put.body.find("\"UNSUPPORTED\"") != std::string::npos);
}

TEST_CASE("envcache's routes: registry, pull by environment, environment, curated and admin APIs",
          "[proxy][router]") {
    proxy::cli::Endpoints endpoints;
    endpoints.registry = answer("registry");
    endpoints.environment_pull = answer("environment_pull");
    endpoints.environments = answer("environments");
    endpoints.curated = answer("curated");
    endpoints.admin = answer("admin");
    Served served(proxy::cli::make_router(std::move(endpoints)));

    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/v2/", "registry"},
        {"/v2", "registry"},
        {"/v2/library/alpine/manifests/3.19", "registry"},
        {"/v2/docker.io/library/alpine/blobs/sha256:00", "registry"},
        {"/v2/environments/0123/manifests/latest", "environment_pull"},
        {"/v2/environmentsx/a/manifests/1", "registry"},
        {"/api/v1/environments/resolve", "environments"},
        {"/api/v1/environments", "environments"},
        {"/api/v1/admin/curated/AzureML-x/versions/1", "curated"},
        {"/api/v1/admin/stats?x=1", "admin"},
        {"/api/v1/admin", "admin"},
    };
    for (const auto& [target, handler] : cases) {
        INFO(target);
        const auto reply = served.ask(http::verb::get, target);
        CHECK(reply.status == 200);
        CHECK(reply.body == handler);
    }
    // Every API checks its own methods: a push reaches the registry, which refuses it itself.
    CHECK(served.ask(http::verb::put, "/v2/a/manifests/1").body == "registry");
    CHECK(served.ask(http::verb::get, "/api/v1/administrator").status == 404);
    CHECK(served.ask(http::verb::get, "/healthz").status == 404);
    CHECK(served.ask(http::verb::get, "/").status == 404);
}
