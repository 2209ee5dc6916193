#include <cstdlib>
#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

#include "proxy/admin/admin_api.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/http_client.hpp"
#include "tests/cache/evictor_test_util.hpp"
#include "tests/proxy/cli_test_util.hpp"
#include "tests/proxy/http_result_string.hpp"
#include "tests/proxy/loopback_server.hpp"

using namespace proxy;
using namespace proxy::test;
using namespace cache::test;
using namespace cache;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

// Serves `api` on a loopback port, one request per connection.
class AdminServer {
  public:
    explicit AdminServer(AdminApi& api)
        : m_server(serve_http([&api](const Request& req, const net::ip::address& peer) {
              const AdminResponse r = api.handle({req.method_string(), req.target(), req.body(),
                                                  peer, req[http::field::authorization]});
              return to_response(r);
          })) {}

    std::string url() const { return m_server.url(); }

  private:
    LoopbackServer m_server;
};

Output run_cli(std::vector<std::string> words) {
    return run_command(cli::admin, std::move(words));
}

}  // namespace

TEST_CASE("the CLI's client reaches the admin API over loopback with its token", "[admin][cli]") {
    EvictorFixture f;
    AdminApi api(f.evictor(), "tok", {});
    AdminServer server(api);
    auto client_with = [&](std::string token) {
        cli::HttpClientOptions options;
        options.bearer_token = std::move(token);
        auto client = cli::HttpClient::for_server(server.url(), std::move(options));
        REQUIRE(client);
        return std::move(*client);
    };

    auto ok = client_with("tok").call(http::verb::get, "/api/v1/admin/limits");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body.find("\"policy\":\"lru\"") != std::string::npos);

    const auto nope = client_with("nope");
    auto denied = nope.call(http::verb::get, "/api/v1/admin/limits");
    REQUIRE(denied);
    CHECK(denied->status == 401);
    CHECK(nope.error_message(*denied) == "a valid admin bearer token is required");
}

TEST_CASE("envcache admin sends the token from --token-env and never prints it", "[admin][cli]") {
    EvictorFixture f;
    AdminApi api(f.evictor(), "right-token", {});
    AdminServer server(api);
    ::setenv("ENVCACHE_TEST_ADMIN_TOKEN", "wrong-token", 1);

    auto denied =
        run_cli({"limits", "--token-env", "ENVCACHE_TEST_ADMIN_TOKEN", "--server", server.url()});
    CHECK(denied.code == 1);
    CHECK(denied.err == "envcache admin: a valid admin bearer token is required\n");

    ::setenv("ENVCACHE_TEST_ADMIN_TOKEN", "right-token", 1);
    auto limits =
        run_cli({"limits", "--token-env", "ENVCACHE_TEST_ADMIN_TOKEN", "--server", server.url()});
    CHECK(limits.code == 0);
    CHECK(limits.out.find("policy          lru") != std::string::npos);

    auto down = run_cli({"stats", "--token-env", "ENVCACHE_TEST_ADMIN_TOKEN", "--server",
                         "http://127.0.0.1:" + std::to_string(closed_port())});
    CHECK(down.code == 1);
    CHECK(down.err.find("right-token") == std::string::npos);
    ::unsetenv("ENVCACHE_TEST_ADMIN_TOKEN");

    auto unset =
        run_cli({"stats", "--token-env", "ENVCACHE_TEST_ADMIN_TOKEN", "--server", server.url()});
    CHECK(unset.code == 2);
    CHECK(unset.err.find("ENVCACHE_TEST_ADMIN_TOKEN is not set") != std::string::npos);
}

TEST_CASE("envcache admin sets limits, lists pins and evicts, printing tables", "[admin]") {
    EvictorFixture f;
    for (int i = 0; i < 4; ++i) {
        f.put(1'000'000);
        f.clock.now += 1;
    }
    AdminApi api(f.evictor(), {}, {});
    AdminServer server(api);

    auto limits = run_cli(
        {"limits", "--set", "max_size=32MiB", "--set", "policy=sieve", "--server", server.url()});
    CHECK(limits.code == 0);
    CHECK(limits.out.find("max_size        32 MiB") != std::string::npos);
    CHECK(f.evictor().limits().max_size == 32 * k_mib);
    CHECK(f.evictor().limits().policy == "sieve");

    auto bad = run_cli({"limits", "--set", "policy=fifo", "--server", server.url()});
    CHECK(bad.code == 1);
    CHECK(bad.err.find("unknown policy \"fifo\"") != std::string::npos);

    auto add = run_cli({"pins", "add", "docker.io/library/python:3.12", "--server", server.url()});
    CHECK(add.code == 0);
    auto pins = run_cli({"pins", "--server", server.url()});
    CHECK(pins.code == 0);
    CHECK(pins.out.find("docker.io/library/python:3.12  admin   (not stored yet)") !=
          std::string::npos);

    auto evict = run_cli({"evict", "--target", "0", "--dry-run", "--server", server.url()});
    CHECK(evict.code == 0);
    CHECK(evict.out.find("would remove 4 blobs") != std::string::npos);
    CHECK(f.evictor().stats().tracked_blobs == 4);

    // The pin goes into the path percent-encoded, and comes out whole.
    auto rm = run_cli({"pins", "rm", "docker.io/library/python:3.12", "--server", server.url()});
    CHECK(rm.code == 0);
    CHECK(rm.out == "unpinned docker.io/library/python:3.12\n");
    CHECK(run_cli({"pins", "--server", server.url()}).out == "no pins\n");
}

TEST_CASE("envcache admin stats prints usage, traffic, evictions and upstreams", "[admin]") {
    EvictorFixture f;
    for (int i = 0; i < 4; ++i)
        f.put(1'000'000);
    std::ignore = f.evictor().evict_to(0, false);
    AdminApi api(f.evictor(), {}, [] {
        TrafficStats t;
        t.hits = 30;
        t.misses = 10;
        t.bytes_from_cache = 3ull << 30;
        t.upstreams["docker.io"] = {{"requests", 40}, {"bytes_from_upstream", 1ull << 20}};
        return t;
    });
    AdminServer server(api);

    auto stats = run_cli({"stats", "--server", server.url()});

    CHECK(stats.code == 0);
    CHECK(stats.out.find("policy         lru\n") != std::string::npos);
    CHECK(stats.out.find("hits / misses  30 / 10 (hit ratio 75.0%)") != std::string::npos);
    CHECK(stats.out.find("from cache     3 GiB") != std::string::npos);
    CHECK(stats.out.find("  admin      4      3.81 MiB") != std::string::npos);
    CHECK(stats.out.find("  docker.io  1 MiB                40") != std::string::npos);
}

TEST_CASE("envcache admin reports usage errors and unreachable servers", "[admin]") {
    CHECK(run_cli({"frobnicate"}).code == 2);
    CHECK(run_cli({"--help"}).code == 0);
    CHECK(run_cli({"evict", "--server", "http://127.0.0.1:1"}).code == 2);
    CHECK(run_cli({"limits", "--set", "colour=blue"}).code == 2);
    auto down = run_cli({"stats", "--server", "http://127.0.0.1:1"});
    CHECK(down.code == 1);
    CHECK(down.err.find("cannot connect") != std::string::npos);
    auto ftp = run_cli({"stats", "--server", "ftp://example.invalid"});
    CHECK(ftp.code == 1);
    CHECK(ftp.err == "envcache admin: only http:// and https:// server URLs are supported\n");
    auto lone_cert = run_cli({"stats", "--cert", "client.cert"});
    CHECK(lone_cert.code == 2);
    CHECK(lone_cert.err.starts_with("envcache admin: --cert and --key go together\n"));
    auto secret = run_cli({"stats", "--server", "http://admin:s3cret@127.0.0.1:1"});
    CHECK(secret.code == 1);
    CHECK(secret.err.find("s3cret") == std::string::npos);
}
