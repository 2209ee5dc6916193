// The pull path in process: the real server, handler, fetcher and store (in a temporary
// directory) against a test double of the upstream client.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <poll.h>
#include <random>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "cache/cache.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/registry_handler.hpp"
#include "proxy/server/server.hpp"
#include "store/blob_store.hpp"
#include "store/sha256.hpp"
#include "tests/common/temp_dir.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Reply {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/octet-stream";
    std::string docker_digest;  // Docker-Content-Digest, if any
};

// Holds back the body after `after` bytes until opened, like a slow network.
struct Gate {
    std::atomic<bool> open{true};
    std::uint64_t after = 0;
};

class FakeResponse : public proxy::upstream::Response {
  public:
    FakeResponse(Reply reply, bool head, std::shared_ptr<Gate> gate)
        : m_reply(std::move(reply)), m_head(head), m_gate(std::move(gate)) {
        m_headers.set(http::field::content_type, m_reply.content_type);
        if (!m_reply.docker_digest.empty())
            m_headers.set("Docker-Content-Digest", m_reply.docker_digest);
        m_headers.set(http::field::content_length, std::to_string(m_reply.body.size()));
    }
    unsigned status() const override { return m_reply.status; }
    const http::fields& headers() const override { return m_headers; }
    std::optional<std::uint64_t> content_length() const override { return m_reply.body.size(); }
    net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) override {
        if (m_head) co_return std::pair{boost::system::error_code{}, std::size_t{0}};
        net::steady_timer timer(co_await net::this_coro::executor);
        while (m_gate && !m_gate->open && m_pos >= m_gate->after) {
            timer.expires_after(std::chrono::milliseconds(2));
            std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        // Small pieces, each after a turn of the loop, so clients interleave with the download.
        timer.expires_after(std::chrono::milliseconds(0));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        std::size_t n = std::min<std::size_t>({buffer.size(), m_reply.body.size() - m_pos, 65536});
        if (m_gate && !m_gate->open) n = std::min<std::size_t>(n, m_gate->after - m_pos);
        std::memcpy(buffer.data(), m_reply.body.data() + m_pos, n);
        m_pos += n;
        co_return std::pair{boost::system::error_code{}, n};
    }

  private:
    Reply m_reply;
    bool m_head;
    std::shared_ptr<Gate> m_gate;
    http::fields m_headers;
    std::size_t m_pos = 0;
};

class FakeUpstream : public proxy::upstream::Client {
  public:
    explicit FakeUpstream(config::UpstreamConfig config) : m_config(std::move(config)) {}

    net::awaitable<boost::system::result<std::unique_ptr<proxy::upstream::Response>>> send(
        proxy::upstream::Request request) override {
        std::unique_lock lock(m_mutex);
        ++m_counts[std::string(http::to_string(request.method)) + " " + request.target];
        if (down) co_return make_error_code(net::error::connection_refused);
        const auto it = routes.find(request.target);
        Reply reply = it == routes.end() ? Reply{404, "{}", "application/json", ""} : it->second;
        auto gate = this->gate;
        lock.unlock();
        co_return std::make_unique<FakeResponse>(std::move(reply),
                                                 request.method == http::verb::head, gate);
    }
    const config::UpstreamConfig& config() const override { return m_config; }

    int count(const std::string& key) {
        const std::lock_guard lock(m_mutex);
        return m_counts[key];
    }
    void set(const std::string& target, Reply reply) {
        const std::lock_guard lock(m_mutex);
        routes[target] = std::move(reply);
    }

    std::atomic<bool> down{false};
    std::shared_ptr<Gate> gate;

  private:
    config::UpstreamConfig m_config;
    std::mutex m_mutex;
    std::map<std::string, Reply> routes;
    std::map<std::string, int> m_counts;
};

config::Config make_config(const std::filesystem::path& dir) {
    config::Config c;
    c.storage.path = dir;
    c.storage.max_size = 256ull << 20;
    c.prefetch = false;
    config::UpstreamConfig u;
    u.name = "up.test";
    u.url = "http://up.test";
    u.is_default = true;
    u.tag_ttl = std::chrono::seconds(300);
    c.upstreams.push_back(u);
    c.server.header_timeout = std::chrono::seconds(5);
    c.server.idle_timeout = std::chrono::seconds(5);
    return c;
}

// The whole proxy on a loopback port, its loop on two threads of its own.
struct Proxy {
    // map_size: the store's LMDB map, 0 for the default (a small one makes writes fail midway).
    explicit Proxy(std::function<void(config::Config&)> tweak = {}, std::uint64_t map_size = 0)
        : dir(tmp.path()), config(make_config(dir)) {
        if (tweak) tweak(config);
        store::Options options;
        options.path = dir;
        options.max_size = config.storage.max_size;
        options.map_size = map_size;
        cache::Cache::Options cache_options;
        cache_options.evictor.limits = cache::limits_from_config(config.storage, config.eviction);
        cache = std::make_unique<cache::Cache>(store::BlobStore::open(options).value(),
                                               std::move(cache_options));
        REQUIRE(cache->start());
        store = &cache->store();
        upstream = std::make_unique<FakeUpstream>(config.upstreams[0]);
        metrics = std::make_unique<proxy::Metrics>(std::vector<std::string>{"up.test"});
        fetcher = std::make_unique<proxy::fetch::Fetcher>(
            ioc.get_executor(), *cache, *metrics,
            proxy::fetch::Fetcher::Options{dir / "tmp", 2, 64});
        handler = std::make_unique<proxy::registry::RegistryHandler>(
            config, *cache, std::vector<proxy::upstream::Client*>{upstream.get()}, *fetcher,
            *metrics);
        server = std::make_unique<proxy::server::Server>(
            ioc, config.server,
            [this](proxy::server::Exchange& ex) { return handler->handle(ex); });
        port = server->listen("127.0.0.1", 0).value().port();
        server->start();
        for (int i = 0; i < 2; ++i)
            threads.emplace_back([this] { ioc.run(); });
    }
    // The proxy's own shutdown: connections ended, downloads cancelled and awaited, then the
    // loop runs out of work and everything is destroyed in order.
    ~Proxy() {
        // Spawned first: it keeps the loop running while the connections end.
        std::promise<bool> ended;
        net::co_spawn(ioc, fetcher->shutdown(std::chrono::seconds(10)),
                      [&ended](std::exception_ptr, bool all) { ended.set_value(all); });
        server->stop();
        server->close_all();
        CHECK(ended.get_future().get());
        for (int i = 0; i < 500 && server->connections() > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ioc.stop();  // what is left (a test's own sockets) uses nothing destroyed below
        for (auto& t : threads)
            t.join();
        server.reset();
        handler.reset();
        fetcher.reset();
        cache.reset();
    }

    test_util::TempDir tmp{"envcache-pull"};  // removed after everything below
    std::filesystem::path dir;
    config::Config config;
    net::io_context ioc{2};
    std::unique_ptr<cache::Cache> cache;
    store::BlobStore* store = nullptr;  // the cache's
    std::unique_ptr<FakeUpstream> upstream;
    std::unique_ptr<proxy::Metrics> metrics;
    std::unique_ptr<proxy::fetch::Fetcher> fetcher;
    std::unique_ptr<proxy::registry::RegistryHandler> handler;
    std::unique_ptr<proxy::server::Server> server;
    std::uint16_t port = 0;
    std::vector<std::thread> threads;
};

struct Got {
    unsigned status = 0;
    std::string body;
    http::fields headers;
    bool complete = false;  // the body arrived whole
};

// A blocking client with its own connection; read errors leave complete = false.
Got fetch(std::uint16_t port, http::verb method, const std::string& target,
          std::map<std::string, std::string> headers = {}) {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "proxy.test");
    for (const auto& [k, v] : headers)
        req.set(k, v);
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    if (method == http::verb::head) parser.skip(true);
    beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    Got got;
    got.status = parser.get().result_int();
    got.body = parser.get().body();
    got.headers = parser.get().base();
    got.complete = !ec;
    return got;
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(gen());
    return s;
}

std::string digest_of(const std::string& s) {
    return store::Sha256::of(s).str();
}

}  // namespace

TEST_CASE("concurrent clients of an uncached blob cause one upstream download", "[proxy][pull]") {
    Proxy proxy;
    const std::string blob = random_bytes(3 * 1024 * 1024 + 17, 1);
    const std::string digest = digest_of(blob);
    const std::string target = "/v2/envs/app/blobs/" + digest;
    proxy.upstream->set(target, {200, blob, "application/octet-stream", ""});
    proxy.upstream->gate = std::make_shared<Gate>();
    proxy.upstream->gate->open = false;
    proxy.upstream->gate->after = 1024 * 1024;

    constexpr int k_clients = 8;
    std::vector<Got> results(k_clients);
    std::vector<std::thread> clients;
    for (int i = 0; i < k_clients; ++i)
        clients.emplace_back([&, i] { results[i] = fetch(proxy.port, http::verb::get, target); });
    // The download stays held at 1 MiB until every client joined it.
    for (int i = 0; i < 1000 && proxy.metrics->total().coalesced + proxy.metrics->total().misses <
                                    static_cast<std::uint64_t>(k_clients);
         ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    proxy.upstream->gate->open = true;
    for (auto& c : clients)
        c.join();

    CHECK(proxy.upstream->count("GET " + target) == 1);
    for (const auto& r : results) {
        CHECK(r.status == 200);
        CHECK(r.complete);
        CHECK(r.body.size() == blob.size());
        CHECK(r.body == blob);
    }
    CHECK(proxy.metrics->total().misses == 1);
    CHECK(proxy.metrics->total().coalesced == k_clients - 1);
    auto info = proxy.store->stat(*store::Digest::parse(digest));
    REQUIRE(info.has_value());
    REQUIRE(info->has_value());
    CHECK((*info)->size == blob.size());

    // Now a hit: no further upstream request.
    const auto again = fetch(proxy.port, http::verb::get, target);
    CHECK(again.body == blob);
    CHECK(proxy.upstream->count("GET " + target) == 1);
}

TEST_CASE("a client gets the first bytes of a blob before its download finished", "[proxy][pull]") {
    Proxy proxy;
    const std::string blob = random_bytes(2 * 1024 * 1024, 2);
    const std::string target = "/v2/a/blobs/" + digest_of(blob);
    proxy.upstream->set(target, {200, blob, "application/octet-stream", ""});
    proxy.upstream->gate = std::make_shared<Gate>();
    proxy.upstream->gate->open = false;
    proxy.upstream->gate->after = 512 * 1024;

    net::io_context io;
    tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    http::request<http::empty_body> req{http::verb::get, target, 11};
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(1ull << 30);
    http::read_header(socket, buffer, parser);
    CHECK(parser.get().result_int() == 200);
    CHECK(parser.content_length().value_or(0) == blob.size());
    // The gate is still closed: these bytes can only come while the download is running.
    std::string received;
    std::vector<char> piece(64 * 1024);
    while (received.size() < 256 * 1024) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        beast::error_code ec;
        http::read(socket, buffer, parser, ec);
        if (ec && ec != http::error::need_buffer) break;
        received.append(piece.data(), piece.size() - parser.get().body().size);
    }
    CHECK(received == blob.substr(0, received.size()));
    CHECK(received.size() >= 256 * 1024);
    CHECK(proxy.fetcher->in_flight() == 1);
    proxy.upstream->gate->open = true;
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        beast::error_code ec;
        http::read(socket, buffer, parser, ec);
        if (ec && ec != http::error::need_buffer) break;
        received.append(piece.data(), piece.size() - parser.get().body().size);
    }
    CHECK(received == blob);
}

TEST_CASE("a blob whose digest does not match is never stored and the client is cut off",
          "[proxy][pull]") {
    Proxy proxy;
    const std::string blob = random_bytes(300 * 1024, 3);
    std::string corrupt = blob;
    corrupt[1000] ^= 1;
    const std::string digest = digest_of(blob);
    const std::string target = "/v2/a/blobs/" + digest;
    proxy.upstream->set(target, {200, corrupt, "application/octet-stream", ""});

    const auto got = fetch(proxy.port, http::verb::get, target);
    CHECK_FALSE(got.complete);
    CHECK(got.body.size() < blob.size());
    CHECK(proxy.metrics->total().digest_mismatch == 1);
    auto info = proxy.store->stat(*store::Digest::parse(digest));
    REQUIRE(info.has_value());
    CHECK_FALSE(info->has_value());
}

TEST_CASE("when the store drops out of a download the blob is still checked against its digest",
          "[proxy][pull]") {
    // A map of 1 or 3 MiB holds less than one 4 MiB blob: the store write fails at the first
    // chunk or after one or two were written (their bytes then move to the spool), and the
    // digest must then be checked from the bytes the client was sent.
    const std::uint64_t map_size = GENERATE(1ull << 20, 3ull << 20);
    CAPTURE(map_size);
    Proxy proxy({}, map_size);
    const std::string blob = random_bytes(4 << 20, 5);
    const std::string good_target = "/v2/a/blobs/" + digest_of(blob);
    const std::string bad_blob = random_bytes(4 << 20, 6);
    std::string bad_corrupt = bad_blob;
    bad_corrupt[(3 << 20) + 17] ^= 1;  // past where the store gives up
    const std::string bad_target = "/v2/a/blobs/" + digest_of(bad_blob);
    proxy.upstream->set(good_target, {200, blob, "application/octet-stream", ""});
    proxy.upstream->set(bad_target, {200, bad_corrupt, "application/octet-stream", ""});

    const auto good = fetch(proxy.port, http::verb::get, good_target);
    CHECK(good.status == 200);
    CHECK(good.complete);
    CHECK(good.body == blob);
    CHECK(proxy.metrics->total().store_errors >= 1);  // the store did drop out

    const auto bad = fetch(proxy.port, http::verb::get, bad_target);
    CHECK_FALSE(bad.complete);
    CHECK(bad.body.size() < bad_blob.size());
    CHECK(proxy.metrics->total().digest_mismatch == 1);
}

TEST_CASE("a spool is made only for a download the store does not take and without one it gets 503",
          "[proxy][pull]") {
    Proxy proxy([](config::Config& c) { c.storage.max_size = 2ull << 20; });
    // A file where the spools' directory would be: no spool can be made.
    const std::filesystem::path spools = proxy.dir / "tmp";
    std::ofstream(spools) << "in the way";
    const std::string small = random_bytes(300 * 1024, 7);
    const std::string large = random_bytes(3 << 20, 8);  // over max_size: not stored
    const std::string small_target = "/v2/a/blobs/" + digest_of(small);
    const std::string large_target = "/v2/a/blobs/" + digest_of(large);
    proxy.upstream->set(small_target, {200, small, "application/octet-stream", ""});
    proxy.upstream->set(large_target, {200, large, "application/octet-stream", ""});

    const auto stored = fetch(proxy.port, http::verb::get, small_target);
    CHECK(stored.status == 200);
    CHECK(stored.body == small);
    auto info = proxy.store->stat(*store::Digest::parse(digest_of(small)));
    REQUIRE(info.has_value());
    CHECK(info->has_value());

    const auto refused = fetch(proxy.port, http::verb::get, large_target);
    CHECK(refused.status == 503);
    CHECK(refused.body.find("\"UNAVAILABLE\"") != std::string::npos);

    std::filesystem::remove(spools);  // room for spools again: the large blob is streamed
    const auto spooled = fetch(proxy.port, http::verb::get, large_target);
    CHECK(spooled.status == 200);
    CHECK(spooled.body == large);
    info = proxy.store->stat(*store::Digest::parse(digest_of(large)));
    REQUIRE(info.has_value());
    CHECK_FALSE(info->has_value());
}

TEST_CASE("range requests of a stored blob get 206 and unsatisfiable ones 416", "[proxy][pull]") {
    Proxy proxy;
    const std::string blob = random_bytes(2 * 1024 * 1024 + 5, 4);
    const std::string target = "/v2/a/blobs/" + digest_of(blob);
    proxy.upstream->set(target, {200, blob, "application/octet-stream", ""});
    REQUIRE(fetch(proxy.port, http::verb::get, target).body == blob);

    // A range that crosses a chunk boundary.
    auto got = fetch(proxy.port, http::verb::get, target, {{"Range", "bytes=1048500-1048700"}});
    CHECK(got.status == 206);
    CHECK(got.body == blob.substr(1048500, 201));
    CHECK(got.headers[http::field::content_range] ==
          "bytes 1048500-1048700/" + std::to_string(blob.size()));

    got = fetch(proxy.port, http::verb::get, target, {{"Range", "bytes=-10"}});
    CHECK(got.status == 206);
    CHECK(got.body == blob.substr(blob.size() - 10));

    got = fetch(proxy.port, http::verb::get, target,
                {{"Range", "bytes=" + std::to_string(blob.size()) + "-"}});
    CHECK(got.status == 416);
    CHECK(got.headers[http::field::content_range] == "bytes */" + std::to_string(blob.size()));

    got = fetch(proxy.port, http::verb::head, target);
    CHECK(got.status == 200);
    CHECK(got.headers[http::field::content_length] == std::to_string(blob.size()));
    CHECK(got.headers["Docker-Content-Digest"] == digest_of(blob));
    CHECK(got.headers[http::field::accept_ranges] == "bytes");
}

TEST_CASE("a manifest by tag is served from the store while fresh and stale when offline",
          "[proxy][pull]") {
    Proxy proxy([](config::Config& c) { c.upstreams[0].tag_ttl = std::chrono::seconds(0); });
    const std::string manifest =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{"digest":"sha256:)" +
        std::string(64, 'a') + R"("},"layers":[]})";
    const std::string digest = digest_of(manifest);
    proxy.upstream->set("/v2/envs/app/manifests/v1",
                        {200, manifest, "application/vnd.oci.image.manifest.v1+json", digest});

    auto got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/v1");
    CHECK(got.status == 200);
    CHECK(got.body == manifest);
    CHECK(got.headers["Docker-Content-Digest"] == digest);
    CHECK(got.headers[http::field::content_type] == "application/vnd.oci.image.manifest.v1+json");

    // tag_ttl 0: every request revalidates with a HEAD; same digest, no new GET.
    got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/v1");
    CHECK(got.body == manifest);
    CHECK(proxy.upstream->count("GET /v2/envs/app/manifests/v1") == 1);
    CHECK(proxy.upstream->count("HEAD /v2/envs/app/manifests/v1") == 1);

    proxy.upstream->down = true;
    got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/v1");
    CHECK(got.status == 200);
    CHECK(got.body == manifest);
    CHECK(proxy.metrics->total().stale == 1);

    got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/" + digest);
    CHECK(got.body == manifest);

    got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/other");
    CHECK(got.status == 502);
}

TEST_CASE("a tag's 404 is remembered for negative_ttl", "[proxy][pull]") {
    const auto asks = [](std::chrono::seconds negative_ttl) {
        Proxy proxy([&](config::Config& c) { c.upstreams[0].negative_ttl = negative_ttl; });
        for (int i = 0; i < 3; ++i) {
            const auto got = fetch(proxy.port, http::verb::get, "/v2/envs/app/manifests/later");
            CHECK(got.status == 404);
            CHECK(got.body.find("MANIFEST_UNKNOWN") != std::string::npos);
        }
        return std::pair{proxy.upstream->count("GET /v2/envs/app/manifests/later"),
                         proxy.metrics->total().negative.load()};
    };
    CHECK(asks(std::chrono::seconds(300)) == std::pair{1, std::uint64_t{2}});
    CHECK(asks(std::chrono::seconds(0)) == std::pair{3, std::uint64_t{0}});
}

TEST_CASE("within stale_while_revalidate a stale tag is served at once and renewed behind",
          "[proxy][pull]") {
    Proxy proxy([](config::Config& c) {
        c.upstreams[0].tag_ttl = std::chrono::seconds(0);
        c.upstreams[0].stale_while_revalidate = std::chrono::seconds(300);
    });
    const auto manifest_for = [](char fill) {
        return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
               R"("config":{"digest":"sha256:)" +
               std::string(64, fill) + R"("},"layers":[]})";
    };
    const std::string first = manifest_for('a');
    const std::string second = manifest_for('b');
    const std::string target = "/v2/envs/app/manifests/v1";
    proxy.upstream->set(
        target, {200, first, "application/vnd.oci.image.manifest.v1+json", digest_of(first)});
    CHECK(fetch(proxy.port, http::verb::get, target).body == first);

    // The tag moves upstream; the stale copy is still what the next client gets, at once.
    proxy.upstream->set(
        target, {200, second, "application/vnd.oci.image.manifest.v1+json", digest_of(second)});
    const auto got = fetch(proxy.port, http::verb::get, target);
    CHECK(got.status == 200);
    CHECK(got.body == first);
    CHECK(proxy.metrics->total().stale >= 1);

    // Meanwhile the background revalidation saw the new digest and fetched it.
    std::string now_served;
    for (int i = 0; i < 1000 && now_served != second; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        now_served = fetch(proxy.port, http::verb::get, target).body;
    }
    CHECK(now_served == second);
    CHECK(proxy.upstream->count("GET " + target) == 2);
    CHECK(proxy.upstream->count("HEAD " + target) >= 1);
}

TEST_CASE("a manifest fetched by digest must hash to that digest", "[proxy][pull]") {
    Proxy proxy;
    const std::string manifest = R"({"schemaVersion":2,"layers":[]})";
    const std::string wrong = "sha256:" + std::string(64, 'b');
    proxy.upstream->set("/v2/a/manifests/" + wrong,
                        {200, manifest, "application/octet-stream", ""});
    const auto got = fetch(proxy.port, http::verb::get, "/v2/a/manifests/" + wrong);
    CHECK(got.status == 502);
    auto info = proxy.store->stat(*store::Digest::parse(wrong));
    REQUIRE(info.has_value());
    CHECK_FALSE(info->has_value());
}

TEST_CASE("invalid requests are answered before any upstream call", "[proxy][pull]") {
    Proxy proxy;
    CHECK(fetch(proxy.port, http::verb::get, "/v2/%2e%2e/x/manifests/y").status == 400);
    CHECK(fetch(proxy.port, http::verb::get, "/v2/../x/manifests/y").status == 400);
    CHECK(fetch(proxy.port, http::verb::get, "/v2/A/manifests/y").status == 400);
    CHECK(fetch(proxy.port, http::verb::get, "/v2/a/blobs/sha256:12").status == 400);
    CHECK(fetch(proxy.port, http::verb::put, "/v2/a/manifests/y").status == 405);
    const auto unknown_ns = fetch(proxy.port, http::verb::get, "/v2/a/manifests/y?ns=quay.io");
    CHECK(unknown_ns.status == 404);
    CHECK(unknown_ns.body.find("NAME_UNKNOWN") != std::string::npos);
    const auto base = fetch(proxy.port, http::verb::get, "/v2/");
    CHECK(base.status == 200);
    CHECK(base.headers["Docker-Distribution-API-Version"] == "registry/2.0");
    CHECK(proxy.upstream->count("GET /v2/x/manifests/y") == 0);
    CHECK(proxy.upstream->count("GET /v2/a/manifests/y") == 0);

    const auto missing =
        fetch(proxy.port, http::verb::get, "/v2/a/blobs/sha256:" + std::string(64, 'c'));
    CHECK(missing.status == 404);
    CHECK(missing.body.find("BLOB_UNKNOWN") != std::string::npos);

    const auto referrers =
        fetch(proxy.port, http::verb::get, "/v2/a/referrers/sha256:" + std::string(64, 'c'));
    CHECK(referrers.status == 200);
    CHECK(referrers.body.find(R"("manifests":[])") != std::string::npos);
}

TEST_CASE("a client that stops reading holds back neither the download nor other clients",
          "[proxy][pull]") {
    Proxy proxy;
    const std::string blob = random_bytes(24 * 1024 * 1024, 5);
    const std::string target = "/v2/a/blobs/" + digest_of(blob);
    proxy.upstream->set(target, {200, blob, "application/octet-stream", ""});

    // The stalled client reads the headers, then nothing.
    net::io_context io;
    tcp::socket stalled(io);
    stalled.open(tcp::v4());
    stalled.set_option(net::socket_base::receive_buffer_size(4096));
    stalled.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    http::request<http::empty_body> req{http::verb::get, target, 11};
    http::write(stalled, req);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(1ull << 30);
    http::read_header(stalled, buffer, parser);
    REQUIRE(parser.get().result_int() == 200);

    const auto other = fetch(proxy.port, http::verb::get, target);
    CHECK(other.complete);
    CHECK(other.body == blob);
    // The download finished and was stored while the stalled client still holds its response.
    auto info = proxy.store->stat(*store::Digest::parse(digest_of(blob)));
    REQUIRE(info.has_value());
    CHECK(info->has_value());
    CHECK(proxy.upstream->count("GET " + target) == 1);
    stalled.close();
}

TEST_CASE("connections over max_connections are closed at once", "[proxy][server]") {
    Proxy proxy([](config::Config& c) { c.server.max_connections = 1; });
    net::io_context io;
    tcp::socket first(io);
    first.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    // The first connection is counted once its request was answered.
    http::request<http::empty_body> req{http::verb::get, "/v2/", 11};
    http::write(first, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(first, buffer, res);
    REQUIRE(res.result_int() == 200);

    tcp::socket second(io);
    second.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    beast::error_code ec;
    http::write(second, req, ec);
    beast::flat_buffer buffer2;
    http::response<http::string_body> res2;
    http::read(second, buffer2, res2, ec);
    CHECK(ec);  // closed without an answer
}

TEST_CASE("a request whose header arrives in pieces is answered once it is whole",
          "[proxy][server]") {
    Proxy proxy;
    net::io_context io;
    tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    const std::string request = "GET /v2/ HTTP/1.1\r\nHost: x\r\nUser-Agent: pieces\r\n\r\n";
    // Each piece alone is no whole header: nothing is answered to it (within 200 ms, time
    // enough for the server to have read it), and the server reads on from where it parsed.
    std::size_t from = 0;
    for (const std::size_t cut : {std::size_t{5}, std::size_t{21}}) {
        net::write(socket, net::buffer(request.data() + from, cut - from));
        from = cut;
        pollfd answer{socket.native_handle(), POLLIN, 0};
        CHECK(::poll(&answer, 1, 200) == 0);
    }
    net::write(socket, net::buffer(request.data() + from, request.size() - from));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    CHECK(res.result_int() == 200);
    CHECK(res.body() == "{}");
}

TEST_CASE("a client that sends its headers too slowly is dropped", "[proxy][server]") {
    Proxy proxy([](config::Config& c) { c.server.header_timeout = std::chrono::seconds(1); });
    net::io_context io;
    tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), proxy.port});
    const std::string partial = "GET /v2/ HTTP/1.1\r\nHost: x\r\n";
    net::write(socket, net::buffer(partial));
    const auto start = std::chrono::steady_clock::now();
    char byte = 0;
    beast::error_code ec;
    const std::size_t n = socket.read_some(net::buffer(&byte, 1), ec);
    CHECK(n == 0);
    CHECK(ec);  // the server closed the connection
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}
