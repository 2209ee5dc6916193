#include <iostream>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "proxy/admin/admin_api.hpp"
#include "proxy/admin/admin_client.hpp"
#include "proxy/cli/commands.hpp"
#include "tests/cache/evictor_test_util.hpp"

using namespace proxy;
using namespace cache::test;
using namespace cache;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

// Serves exactly `requests` admin requests on a loopback port, one per connection.
class AdminServer {
  public:
    AdminServer(AdminApi& api, int requests)
        : m_api(api), m_acceptor(m_ioc, {net::ip::make_address("127.0.0.1"), 0}) {
        m_thread = std::thread([this, requests] {
            for (int i = 0; i < requests; ++i)
                serve_one();
        });
    }
    ~AdminServer() { m_thread.join(); }

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(m_acceptor.local_endpoint().port());
    }

  private:
    void serve_one() {
        boost::system::error_code ec;
        net::ip::tcp::socket socket(m_ioc);
        m_acceptor.accept(socket, ec);
        if (ec) return;
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(socket, buffer, req, ec);
        if (ec) return;
        auto auth = req[http::field::authorization];
        const AdminResponse r = m_api.handle({req.method_string(), req.target(), req.body(),
                                              socket.remote_endpoint().address(), auth});
        http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
        res.set(http::field::content_type, r.content_type);
        for (const auto& [k, v] : r.headers)
            res.set(k, v);
        res.body() = r.body;
        res.prepare_payload();
        http::write(socket, res, ec);
        socket.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    }

    AdminApi& m_api;
    net::io_context m_ioc;
    net::ip::tcp::acceptor m_acceptor;
    std::thread m_thread;
};

struct Output {
    int code = 0;
    std::string out;
    std::string err;
};

Output run_cli(std::vector<std::string> words) {
    std::vector<std::string_view> args(words.begin(), words.end());
    std::ostringstream out;
    std::ostringstream err;
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    auto* old_err = std::cerr.rdbuf(err.rdbuf());
    const int code = cli::admin(args);
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("the admin client reaches the admin API over loopback", "[admin]") {
    EvictorFixture f;
    AdminApi api(f.evictor(), "tok", {});
    AdminServer server(api, 2);

    auto ok = admin_call(server.url(), "GET", "/api/v1/admin/limits", {}, "tok");
    CHECK(ok.failure.empty());
    CHECK(ok.status == 200);
    CHECK(ok.body.find("\"policy\":\"lru\"") != std::string::npos);

    auto denied = admin_call(server.url(), "GET", "/api/v1/admin/limits", {}, "nope");
    CHECK(denied.status == 401);
    CHECK(error_message(denied) == "a valid admin bearer token is required");
}

TEST_CASE("envcache admin sets limits, lists pins and evicts, printing tables", "[admin]") {
    EvictorFixture f;
    for (int i = 0; i < 4; ++i) {
        f.put(1'000'000);
        f.clock.now += 1;
    }
    AdminApi api(f.evictor(), {}, {});
    AdminServer server(api, 5);

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
    AdminServer server(api, 1);

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
    CHECK(run_cli({"stats", "--server", "https://example.invalid"}).code == 1);
}
