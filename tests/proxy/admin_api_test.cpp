#include "proxy/admin/admin_api.hpp"

#include <sstream>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "tests/cache/evictor_test_util.hpp"

using namespace proxy;
using namespace cache::test;
using namespace cache;
namespace json = boost::json;

namespace {

constexpr std::uint64_t k_blob = 1'000'000;

const auto k_loopback = boost::asio::ip::make_address("127.0.0.1");
const auto k_remote = boost::asio::ip::make_address("192.0.2.10");

struct Api {
    explicit Api(EvictorFixture& f, std::string token = {})
        : api(f.evictor(), std::move(token), [] {
              TrafficStats t;
              t.hits = 3;
              t.misses = 1;
              t.bytes_from_cache = 3000;
              t.bytes_from_upstream = 1000;
              t.upstreams["docker.io"] = {{"requests", 4}, {"errors", 0}};
              t.server = {.connections = 7, .loops = 2, .active_loops = 1};
              return t;
          }) {}

    AdminResponse call(std::string_view method, std::string_view target, std::string_view body = {},
                       boost::asio::ip::address peer = k_loopback,
                       std::string_view authorization = {}) {
        return api.handle({method, target, body, peer, authorization});
    }

    AdminApi api;
};

json::value body_of(const AdminResponse& r) {
    return json::parse(r.body);
}

std::string error_code_of(const AdminResponse& r) {
    return std::string(body_of(r).at("errors").at(0).at("code").as_string());
}

}  // namespace

TEST_CASE("without a token the admin API refuses callers that are not on loopback", "[admin]") {
    EvictorFixture f;
    Api api(f);
    auto r = api.call("GET", "/api/v1/admin/stats", {}, k_remote);
    CHECK(r.status == 403);
    CHECK(error_code_of(r) == "DENIED");
    CHECK(api.call("GET", "/api/v1/admin/stats", {}, k_loopback).status == 200);
    CHECK(api.call("GET", "/api/v1/admin/stats", {}, boost::asio::ip::make_address("::1")).status ==
          200);
    CHECK(api.call("GET", "/api/v1/admin/stats", {},
                   boost::asio::ip::make_address("::ffff:127.0.0.1"))
              .status == 200);
    CHECK(api.call("PUT", "/api/v1/admin/limits", R"({"max_size":"1GiB"})", k_remote).status ==
          403);
    CHECK(f.evictor().limits().max_size == EvictorFixture::default_limits().max_size);
}

TEST_CASE("with a token every caller needs the right bearer token", "[admin]") {
    EvictorFixture f;
    Api api(f, "s3cret-token");
    for (auto peer : {k_loopback, k_remote}) {
        auto missing = api.call("GET", "/api/v1/admin/stats", {}, peer);
        CHECK(missing.status == 401);
        CHECK(error_code_of(missing) == "UNAUTHORIZED");
        CHECK(missing.body.find("s3cret") == std::string::npos);
        CHECK(api.call("GET", "/api/v1/admin/stats", {}, peer, "Bearer wrong").status == 401);
        CHECK(api.call("GET", "/api/v1/admin/stats", {}, peer, "Bearer s3cret-toke").status == 401);
        CHECK(api.call("GET", "/api/v1/admin/stats", {}, peer, "Basic s3cret-token").status == 401);
        CHECK(api.call("GET", "/api/v1/admin/stats", {}, peer, "Bearer s3cret-token").status ==
              200);
    }
}

TEST_CASE("stats report usage, limits, traffic and evictions by reason", "[admin]") {
    EvictorFixture f;
    for (int i = 0; i < 3; ++i)
        f.put(k_blob);
    Api api(f);
    auto r = api.call("GET", "/api/v1/admin/stats");
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "application/json");
    auto o = body_of(r).as_object();
    CHECK(o.at("used_bytes").to_number<std::uint64_t>() == f.used());
    CHECK(o.at("max_bytes").to_number<std::uint64_t>() == 64 * k_mib);
    CHECK(o.at("high_watermark").to_number<double>() == 0.9);
    CHECK(o.at("low_watermark").to_number<double>() == 0.5);
    CHECK(o.at("policy").as_string() == "lru");
    CHECK(o.at("blobs").to_number<int>() == 3);
    CHECK(o.at("hits").to_number<int>() == 3);
    CHECK(o.at("misses").to_number<int>() == 1);
    CHECK(o.at("bytes_from_cache").to_number<int>() == 3000);
    CHECK(o.at("bytes_from_upstream").to_number<int>() == 1000);
    CHECK(o.at("evictions").at("watermark").to_number<int>() == 0);
    CHECK(o.at("evictions").at("max_age").to_number<int>() == 0);
    CHECK(o.at("upstreams").at("docker.io").at("requests").to_number<int>() == 4);
    CHECK(o.at("server").at("connections").to_number<int>() == 7);
    CHECK(o.at("server").at("loops").to_number<int>() == 2);
    CHECK(o.at("server").at("active_loops").to_number<int>() == 1);
}

TEST_CASE("limits are read and set live through the API", "[admin]") {
    EvictorFixture f;
    Api api(f);
    auto r = api.call("PUT", "/api/v1/admin/limits",
                      R"({"max_size":"32MiB","high_watermark":0.8,"low_watermark":0.7,)"
                      R"("policy":"s3fifo","max_age":"30d"})");
    REQUIRE(r.status == 200);
    auto o = body_of(r).as_object();
    CHECK(o.at("max_size").to_number<std::uint64_t>() == 32 * k_mib);
    CHECK(o.at("policy").as_string() == "s3fifo");
    CHECK(o.at("max_age").to_number<std::int64_t>() == 30 * 24 * 3600);
    CHECK(f.evictor().limits().max_size == 32 * k_mib);
    CHECK(f.evictor().limits().low_watermark == 0.7);

    // Bytes as a number, one field only: the others stay.
    REQUIRE(api.call("PUT", "/api/v1/admin/limits", R"({"max_size":50000000})").status == 200);
    auto got = body_of(api.call("GET", "/api/v1/admin/limits")).as_object();
    CHECK(got.at("max_size").to_number<std::uint64_t>() == 50'000'000);
    CHECK(got.at("policy").as_string() == "s3fifo");

    // A GET body can be sent back as is.
    CHECK(api.call("PUT", "/api/v1/admin/limits", json::serialize(got)).status == 200);
}

TEST_CASE("bad limits are refused with a message and change nothing", "[admin]") {
    EvictorFixture f;
    Api api(f);
    const auto before = f.evictor().limits();
    struct Case {
        const char* body;
        const char* says;
    };
    for (const Case& c : {
             Case{R"({"low_watermark":0.95})", "low_watermark"},
             Case{R"({"high_watermark":0.4})", "low_watermark"},
             Case{R"({"high_watermark":1.2})", "high_watermark"},
             Case{R"({"policy":"fifo"})", "unknown policy"},
             Case{R"({"max_size":"10 Gigs"})", "max_size"},
             Case{R"({"max_size":0})", "max_size"},
             Case{R"({"max_size":-5})", "max_size"},
             Case{R"({"max_age":"forever"})", "max_age"},
             Case{R"({"colour":"blue"})", "unknown field"},
             Case{R"([1,2])", "JSON object"},
             Case{R"({"max_size":)", "not JSON"},
         }) {
        INFO(c.body);
        auto r = api.call("PUT", "/api/v1/admin/limits", c.body);
        CHECK(r.status == 400);
        CHECK(r.body.find(c.says) != std::string::npos);
    }
    CHECK(f.evictor().limits() == before);
}

TEST_CASE("pins are listed, added and removed through the API", "[admin]") {
    EvictorFixture f(EvictorFixture::default_limits(), {"docker.io/library/base:1"});
    Api api(f);
    auto added = api.call("POST", "/api/v1/admin/pins", R"({"pin":"ghcr.io/org/app:2.0"})");
    CHECK(added.status == 201);
    CHECK(api.call("POST", "/api/v1/admin/pins", R"({"pin":"ghcr.io/org/app:2.0"})").status == 409);
    CHECK(api.call("POST", "/api/v1/admin/pins", R"({"pin":"Not A Pin"})").status == 400);
    CHECK(api.call("POST", "/api/v1/admin/pins", R"({"pin":"sha256:x"})").status == 400);

    auto listed = body_of(api.call("GET", "/api/v1/admin/pins")).at("pins").as_array();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].at("source").as_string() == "config");
    CHECK(listed[1].at("pin").as_string() == "ghcr.io/org/app:2.0");
    CHECK(listed[1].at("digest").is_null());

    CHECK(api.call("DELETE", "/api/v1/admin/pins/docker.io%2Flibrary%2Fbase%3A1").status == 409);
    CHECK(api.call("DELETE", "/api/v1/admin/pins/ghcr.io%2Forg%2Fapp%3A2.0").status == 200);
    CHECK(api.call("DELETE", "/api/v1/admin/pins/ghcr.io/org/app:2.0").status == 404);
    REQUIRE(api.call("POST", "/api/v1/admin/pins", R"({"pin":"ghcr.io/org/app:3"})").status == 201);
    CHECK(api.call("DELETE", "/api/v1/admin/pins", R"({"pin":"ghcr.io/org/app:3"})").status == 200);
    CHECK(body_of(api.call("GET", "/api/v1/admin/pins")).at("pins").as_array().size() == 1);
}

TEST_CASE("a dry-run eviction lists victims without removing them", "[admin]") {
    EvictorFixture f;
    std::vector<store::Digest> blobs;
    for (int i = 0; i < 6; ++i) {
        blobs.push_back(f.put(k_blob));
        f.clock.now += 1;
    }
    Api api(f);
    const auto used = f.used();
    const auto target = used - 2'500'000;

    auto r = api.call("POST", "/api/v1/admin/evict",
                      R"({"target_size":)" + std::to_string(target) + R"(,"dry_run":true})");
    REQUIRE(r.status == 200);
    auto o = body_of(r).as_object();
    CHECK(o.at("dry_run").as_bool());
    auto removed = o.at("removed").as_array();
    REQUIRE(removed.size() == 3);  // 3 x 1,000,000 bytes cover 2.5 MB
    CHECK(removed[0].at("digest").as_string() == blobs[0].str());
    CHECK(removed[2].at("digest").as_string() == blobs[2].str());
    for (const auto& d : blobs)
        CHECK(f.has(d));
    CHECK(f.used() == used);

    auto real = api.call("POST", "/api/v1/admin/evict",
                         R"({"target_size":)" + std::to_string(target) + "}");
    REQUIRE(real.status == 200);
    auto real_removed = body_of(real).at("removed").as_array();
    CHECK(real_removed == removed);
    CHECK_FALSE(f.has(blobs[0]));
    CHECK(f.has(blobs[3]));
    CHECK(f.used() <= target);
    CHECK(f.evictor().stats().evictions.at("admin") == 3);
}

TEST_CASE("one blob is evicted by digest unless a pin protects it", "[admin]") {
    EvictorFixture f;
    const auto a = f.put(k_blob);
    const auto b = f.put(k_blob);
    REQUIRE(f.evictor().add_pin(b.str()) == PinChange::done);
    Api api(f);

    auto dry = api.call("POST", "/api/v1/admin/evict",
                        R"({"digest":")" + a.str() + R"(","dry_run":true})");
    CHECK(dry.status == 200);
    CHECK(f.has(a));
    auto r = api.call("POST", "/api/v1/admin/evict", R"({"digest":")" + a.str() + R"("})");
    CHECK(r.status == 200);
    CHECK(body_of(r).at("count").to_number<int>() == 1);
    CHECK_FALSE(f.has(a));
    CHECK(api.call("POST", "/api/v1/admin/evict", R"({"digest":")" + a.str() + R"("})").status ==
          404);
    auto pinned = api.call("POST", "/api/v1/admin/evict", R"({"digest":")" + b.str() + R"("})");
    CHECK(pinned.status == 409);
    CHECK(f.has(b));
    CHECK(api.call("POST", "/api/v1/admin/evict", R"({"digest":"sha256:abc"})").status == 400);
    CHECK(api.call("POST", "/api/v1/admin/evict", R"({})").status == 400);
    CHECK(api.call("POST", "/api/v1/admin/evict",
                   R"({"target_size":"1MiB","digest":")" + b.str() + R"("})")
              .status == 400);
}

TEST_CASE("unknown admin paths and methods get 404 and 405", "[admin]") {
    EvictorFixture f;
    Api api(f);
    CHECK(api.call("GET", "/api/v1/admin/nope").status == 404);
    auto r = api.call("POST", "/api/v1/admin/stats");
    CHECK(r.status == 405);
    REQUIRE_FALSE(r.headers.empty());
    CHECK(r.headers[0].first == "Allow");
    CHECK(AdminApi::is_admin_path("/api/v1/admin/stats?x=1"));
    CHECK(AdminApi::is_admin_path("/api/v1/admin"));
    CHECK_FALSE(AdminApi::is_admin_path("/api/v1/administrator"));
    CHECK_FALSE(AdminApi::is_admin_path("/v2/"));
}

TEST_CASE("the server's metrics become per-upstream traffic figures", "[admin]") {
    Metrics metrics({"docker.io", "ghcr.io"});
    metrics.add(0, &Counters::hits, 5);
    metrics.add(1, &Counters::misses, 2);
    metrics.add(1, &Counters::bytes_from_upstream, 1000);
    metrics.add(0, &Counters::bytes_from_cache, 700);

    const TrafficStats t = traffic_stats(metrics);

    CHECK(t.hits == 5);
    CHECK(t.misses == 2);
    CHECK(t.bytes_from_cache == 700);
    CHECK(t.bytes_from_upstream == 1000);
    CHECK(t.upstreams.at("docker.io").at("hits") == 5);
    CHECK(t.upstreams.at("ghcr.io").at("bytes_from_upstream") == 1000);
    CHECK(t.upstreams.at("ghcr.io").at("hits") == 0);
}

TEST_CASE("metrics give the same figures in Prometheus' text format", "[admin]") {
    EvictorFixture f;
    for (int i = 0; i < 3; ++i)
        f.put(k_blob);
    Metrics metrics({"docker.io", "odd \"name\"\\"});
    metrics.add(0, &Counters::hits, 5);
    metrics.add(0, &Counters::coalesced, 2);
    metrics.add(1, &Counters::misses, 1);
    metrics.add(1, &Counters::bytes_from_upstream, 1000);
    AdminApi api(f.evictor(), {}, [&metrics] {
        TrafficStats t = traffic_stats(metrics);
        t.server = {.connections = 5, .loops = 4, .active_loops = 2};
        return t;
    });
    const auto r = api.handle({"GET", "/api/v1/admin/metrics", {}, k_loopback, {}});
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
    const std::string& m = r.body;
    auto has_line = [&m](const std::string& line) {
        return m.starts_with(line + "\n") || m.find("\n" + line + "\n") != std::string::npos;
    };
    CHECK(has_line("# TYPE envcache_requests_total counter"));
    CHECK(has_line("envcache_requests_total{upstream=\"docker.io\",outcome=\"hit\"} 5"));
    CHECK(has_line("envcache_requests_total{upstream=\"docker.io\",outcome=\"coalesced\"} 2"));
    CHECK(has_line("envcache_requests_total{upstream=\"docker.io\",outcome=\"miss\"} 0"));
    // Label values escape quotes and backslashes.
    CHECK(
        has_line("envcache_requests_total{upstream=\"odd \\\"name\\\"\\\\\",outcome=\"miss\"} 1"));
    CHECK(has_line(
        "envcache_bytes_total{upstream=\"odd \\\"name\\\"\\\\\",source=\"upstream\"} 1000"));
    CHECK(has_line("envcache_store_used_bytes " + std::to_string(f.used())));
    CHECK(has_line("envcache_store_max_bytes " + std::to_string(64 * k_mib)));
    CHECK(has_line("envcache_store_blobs 3"));
    CHECK(has_line("envcache_evictions_total{reason=\"watermark\"} 0"));
    CHECK(has_line("envcache_reserve_refused_total 0"));
    CHECK(has_line("# TYPE envcache_loops_active gauge"));
    CHECK(has_line("envcache_connections 5"));
    CHECK(has_line("envcache_loops 4"));
    CHECK(has_line("envcache_loops_active 2"));
    // Every sample's family is declared before it.
    std::size_t families = 0;
    std::string declared;
    std::istringstream lines(m);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("# TYPE ")) {
            ++families;
            declared = line.substr(7, line.find(' ', 7) - 7);
        } else if (!line.starts_with("#")) {
            CHECK(line.starts_with(declared));
        }
    }
    CHECK(families >= 10);
    // Same access rules as the rest of the admin API.
    CHECK(api.handle({"GET", "/api/v1/admin/metrics", {}, k_remote, {}}).status == 403);
    CHECK(api.handle({"POST", "/api/v1/admin/metrics", {}, k_loopback, {}}).status == 405);
}
