#include "proxy/registry/route.hpp"

#include <catch2/catch.hpp>

using namespace proxy::registry;
namespace http = boost::beast::http;

namespace {

const std::string k_digest = "sha256:" + std::string(64, 'e');

Route route_of(http::verb method, std::string_view path) {
    auto parsed = parse_route(method, path);
    REQUIRE(std::holds_alternative<Route>(parsed));
    return std::get<Route>(parsed);
}

OciError error_of(http::verb method, std::string_view path) {
    auto parsed = parse_route(method, path);
    REQUIRE(std::holds_alternative<OciError>(parsed));
    return std::get<OciError>(parsed);
}

config::UpstreamConfig upstream(std::string name, std::string url, bool is_default = false) {
    config::UpstreamConfig u;
    u.name = std::move(name);
    u.url = std::move(url);
    u.is_default = is_default;
    return u;
}

}  // namespace

TEST_CASE("pull API paths map to their endpoints", "[proxy][route]") {
    CHECK(route_of(http::verb::get, "/v2/").endpoint == Endpoint::base);
    CHECK(route_of(http::verb::get, "/v2").endpoint == Endpoint::base);

    auto r = route_of(http::verb::get, "/v2/library/alpine/manifests/3.19");
    CHECK(r.endpoint == Endpoint::manifest);
    CHECK(r.name == "library/alpine");
    CHECK(r.reference == "3.19");
    CHECK_FALSE(r.reference_is_digest);

    r = route_of(http::verb::head, "/v2/a/manifests/" + k_digest);
    CHECK(r.reference_is_digest);

    r = route_of(http::verb::get, "/v2/a/b/c/blobs/" + k_digest);
    CHECK(r.endpoint == Endpoint::blob);
    CHECK(r.name == "a/b/c");

    r = route_of(http::verb::get, "/v2/x/manifests/y/tags/list");
    CHECK(r.endpoint == Endpoint::tags_list);
    CHECK(r.name == "x/manifests/y");

    r = route_of(http::verb::get, "/v2/x/referrers/" + k_digest);
    CHECK(r.endpoint == Endpoint::referrers);
}

TEST_CASE("push and delete endpoints answer UNSUPPORTED", "[proxy][route]") {
    CHECK(error_of(http::verb::put, "/v2/a/manifests/latest").code == "UNSUPPORTED");
    CHECK(error_of(http::verb::delete_, "/v2/a/blobs/" + k_digest).status == 405);
    CHECK(error_of(http::verb::post, "/v2/a/blobs/uploads/").code == "UNSUPPORTED");
    CHECK(error_of(http::verb::patch, "/v2/a/blobs/uploads/123").code == "UNSUPPORTED");
    CHECK(error_of(http::verb::get, "/v2/a/blobs/uploads/123").code == "UNSUPPORTED");
}

TEST_CASE("bad names and digests are 400 before anything else", "[proxy][route]") {
    CHECK(error_of(http::verb::get, "/v2/UPPER/manifests/x").code == "NAME_INVALID");
    CHECK(error_of(http::verb::get, "/v2/a/manifests/sha256:abc").code == "DIGEST_INVALID");
    CHECK(error_of(http::verb::get, "/v2/a/blobs/latest").code == "DIGEST_INVALID");
    CHECK(error_of(http::verb::get, "/v2/a/blobs/sha512:" + std::string(128, 'a')).status == 400);
    CHECK(error_of(http::verb::get, "/v2/" + std::string(256, 'a') + "/manifests/x").code ==
          "NAME_INVALID");
    CHECK(error_of(http::verb::get, "/v2/manifests/x").code == "NAME_INVALID");
}

TEST_CASE("a read of a tag outside the grammar is an unknown manifest, before anything else",
          "[proxy][route]") {
    for (const std::string& tag :
         {std::string(".INVALID_MANIFEST_NAME"), std::string("-tag"), std::string(129, 't')}) {
        for (const auto verb : {http::verb::get, http::verb::head}) {
            const auto error = error_of(verb, "/v2/a/manifests/" + tag);
            CHECK(error.status == 404);
            CHECK(error.code == "MANIFEST_UNKNOWN");
            CHECK(error.message.find("not a tag ([a-zA-Z0-9_]") != std::string::npos);
        }
    }
}

TEST_CASE("unknown paths are NOT_FOUND", "[proxy][route]") {
    CHECK(error_of(http::verb::get, "/v2/a/unknown/x").status == 404);
    CHECK(error_of(http::verb::get, "/v3/a").status == 404);
    CHECK(error_of(http::verb::get, "/v2/a").status == 404);
}

TEST_CASE("upstreams are chosen by ns, by path prefix, else the default", "[proxy][route]") {
    const std::vector<config::UpstreamConfig> ups{
        upstream("docker.io", "https://registry-1.docker.io"),
        upstream("mirror.test", "http://127.0.0.1:5055", true),
        upstream("ghcr", "https://ghcr.io"),
    };
    auto pick = [&](std::optional<std::string> ns, std::string_view name) {
        auto r = select_upstream(ups, ns, name);
        REQUIRE(std::holds_alternative<UpstreamTarget>(r));
        return std::get<UpstreamTarget>(r);
    };
    auto t = pick("docker.io", "alpine");
    CHECK(t.index == 0);
    CHECK(t.repo == "library/alpine");
    t = pick("registry-1.docker.io", "x/y");
    CHECK(t.index == 0);
    CHECK(t.repo == "x/y");
    t = pick("ghcr.io", "owner/app");
    CHECK(t.index == 2);
    t = pick("127.0.0.1:5055", "app");
    CHECK(t.index == 1);
    CHECK(t.repo == "app");
    t = pick(std::nullopt, "mirror.test/envs/app");
    CHECK(t.index == 1);
    CHECK(t.repo == "envs/app");
    t = pick(std::nullopt, "docker.io/alpine");
    CHECK(t.index == 0);
    CHECK(t.repo == "library/alpine");
    t = pick(std::nullopt, "envs/app");
    CHECK(t.index == 1);
    CHECK(t.repo == "envs/app");

    t = pick("mirror.test", "mirror.test/envs/app");
    CHECK(t.index == 1);
    CHECK(t.repo == "envs/app");
    t = pick("docker.io", "mirror.test/envs/app");
    CHECK(t.index == 0);
    CHECK(t.repo == "mirror.test/envs/app");

    auto unknown = select_upstream(ups, std::string("quay.io"), "a");
    REQUIRE(std::holds_alternative<OciError>(unknown));
    CHECK(std::get<OciError>(unknown).code == "NAME_UNKNOWN");
    CHECK(std::get<OciError>(unknown).status == 404);
}

TEST_CASE("without a default, only a single upstream is implied", "[proxy][route]") {
    std::vector<config::UpstreamConfig> ups{upstream("a", "http://a"), upstream("b", "http://b")};
    CHECK(std::holds_alternative<OciError>(select_upstream(ups, std::nullopt, "x")));
    ups.pop_back();
    CHECK(std::holds_alternative<UpstreamTarget>(select_upstream(ups, std::nullopt, "x")));
}

TEST_CASE("url_host strips scheme, credentials, path and optionally the port", "[proxy][route]") {
    CHECK(url_host("https://registry-1.docker.io/v2", false) == "registry-1.docker.io");
    CHECK(url_host("http://127.0.0.1:5055", true) == "127.0.0.1:5055");
    CHECK(url_host("http://127.0.0.1:5055", false) == "127.0.0.1");
    CHECK(url_host("http://[::1]:5000/x", false) == "::1");
    CHECK(url_host("http://u:p@host:1", false) == "host");
}
