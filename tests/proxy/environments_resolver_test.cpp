#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "proxy/environments/upstream_resolver.hpp"
#include "store/sha256.hpp"

using namespace proxy;
using namespace proxy::environments;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

struct Answer {
    unsigned status = 200;
    std::string content_type = "application/vnd.oci.image.manifest.v1+json";
    std::string digest_header;  // Docker-Content-Digest, empty: none
    std::string body;
};

class FakeResponse final : public upstream::Response {
  public:
    explicit FakeResponse(Answer a, bool head) : m_answer(std::move(a)), m_head(head) {
        if (!m_answer.content_type.empty())
            m_headers.set(http::field::content_type, m_answer.content_type);
        if (!m_answer.digest_header.empty())
            m_headers.set("Docker-Content-Digest", m_answer.digest_header);
    }
    unsigned status() const override { return m_answer.status; }
    const http::fields& headers() const override { return m_headers; }
    std::optional<std::uint64_t> content_length() const override { return m_answer.body.size(); }
    net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) override {
        const std::string_view rest =
            m_head ? std::string_view() : std::string_view(m_answer.body).substr(m_offset);
        const std::size_t n = std::min(rest.size(), buffer.size());
        std::memcpy(buffer.data(), rest.data(), n);
        m_offset += n;
        co_return std::pair{boost::system::error_code{}, n};
    }

  private:
    Answer m_answer;
    bool m_head;
    http::fields m_headers;
    std::size_t m_offset = 0;
};

class FakeClient final : public upstream::Client {
  public:
    explicit FakeClient(config::UpstreamConfig c) : m_config(std::move(c)) {}
    net::awaitable<boost::system::result<std::unique_ptr<upstream::Response>>> send(
        upstream::Request request) override {
        const bool head = request.method == http::verb::head;
        requests.push_back(std::string(head ? "HEAD " : "GET ") + request.target);
        if (down)
            co_return boost::system::result<std::unique_ptr<upstream::Response>>(
                make_error_code(boost::system::errc::connection_refused));
        auto it = answers.find(request.target);
        Answer a = it == answers.end() ? Answer{404, "", "", ""} : it->second;
        co_return std::unique_ptr<upstream::Response>(new FakeResponse(std::move(a), head));
    }
    const config::UpstreamConfig& config() const override { return m_config; }

    std::map<std::string, Answer> answers;
    std::vector<std::string> requests;
    bool down = false;

  private:
    config::UpstreamConfig m_config;
};

config::UpstreamConfig upstream_config(std::string name, std::string url, bool is_default) {
    config::UpstreamConfig c;
    c.name = std::move(name);
    c.url = std::move(url);
    c.is_default = is_default;
    return c;
}

boost::system::result<ResolvedImage> run(const ImageResolver& resolve, std::string reference) {
    net::io_context io;
    std::optional<boost::system::result<ResolvedImage>> out;
    net::co_spawn(io, resolve(std::move(reference)),
                  [&](std::exception_ptr e, boost::system::result<ResolvedImage> r) {
                      if (e) std::rethrow_exception(e);
                      out = std::move(r);
                  });
    io.run();
    return *out;
}

const std::string k_digest = "sha256:" + std::string(64, 'a');

}  // namespace

TEST_CASE("the resolver asks the upstream named by the reference with a manifest HEAD",
          "[environments]") {
    std::vector<config::UpstreamConfig> upstreams{
        upstream_config("docker.io", "https://registry-1.docker.io", true),
        upstream_config("registry.local", "http://127.0.0.1:5001", false)};
    FakeClient hub(upstreams[0]);
    FakeClient local(upstreams[1]);
    local.answers["/v2/team/app/manifests/1"] =
        Answer{200, "application/vnd.oci.image.manifest.v1+json", k_digest, ""};
    hub.answers["/v2/library/ubuntu/manifests/22.04"] =
        Answer{200, "application/vnd.docker.distribution.manifest.list.v2+json", k_digest, ""};
    auto resolve = make_upstream_resolver(upstreams, {&hub, &local});

    auto r = run(resolve, "registry.local/team/app:1");
    REQUIRE(r.has_value());
    CHECK(r->upstream == "registry.local");
    CHECK(r->repository == "team/app");
    CHECK(r->tag == "1");
    CHECK(r->digest == k_digest);
    CHECK(local.requests == std::vector<std::string>{"HEAD /v2/team/app/manifests/1"});

    // The registry may also be written as the upstream's URL host (with or without port).
    auto by_host = run(resolve, "127.0.0.1:5001/team/app:1");
    REQUIRE(by_host.has_value());
    CHECK(by_host->upstream == "registry.local");

    auto u = run(resolve, "ubuntu:22.04");
    REQUIRE(u.has_value());
    CHECK(u->upstream == "docker.io");
    CHECK(u->repository == "library/ubuntu");
    CHECK(u->media_type == "application/vnd.docker.distribution.manifest.list.v2+json");
}

TEST_CASE("without a digest header the resolver hashes the manifest body", "[environments]") {
    std::vector<config::UpstreamConfig> upstreams{
        upstream_config("registry.local", "http://127.0.0.1:5001", true)};
    FakeClient local(upstreams[0]);
    const std::string manifest = R"({"schemaVersion":2})";
    local.answers["/v2/team/app/manifests/1"] =
        Answer{200, "application/vnd.oci.image.manifest.v1+json", "", manifest};
    auto resolve = make_upstream_resolver(upstreams, {&local});
    auto r = run(resolve, "registry.local/team/app:1");
    REQUIRE(r.has_value());
    CHECK(r->digest ==
          store::Sha256::of(std::span<const char>(manifest.data(), manifest.size())).str());
    CHECK(local.requests.size() == 2);
}

TEST_CASE("resolver errors say not found, no upstream, or unreachable", "[environments]") {
    std::vector<config::UpstreamConfig> upstreams{
        upstream_config("registry.local", "http://127.0.0.1:5001", true)};
    FakeClient local(upstreams[0]);
    auto resolve = make_upstream_resolver(upstreams, {&local});

    auto missing = run(resolve, "registry.local/team/missing:1");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == resolve_errc::not_found);

    auto other = run(resolve, "ghcr.io/org/app:1");
    REQUIRE_FALSE(other.has_value());
    CHECK(other.error() == resolve_errc::no_upstream);
    CHECK(local.requests.size() == 1);  // the unknown registry was never asked

    local.down = true;
    auto down = run(resolve, "registry.local/team/app:1");
    REQUIRE_FALSE(down.has_value());
    CHECK(down.error() != resolve_errc::not_found);
    CHECK(down.error() != resolve_errc::no_upstream);
}
