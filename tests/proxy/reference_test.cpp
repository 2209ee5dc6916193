#include "proxy/registry/reference.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "proxy/registry/media_types.hpp"

using namespace proxy::registry;

TEST_CASE("repository names follow the OCI grammar", "[proxy][reference]") {
    CHECK(is_valid_name("alpine"));
    CHECK(is_valid_name("library/alpine"));
    CHECK(is_valid_name("envs/app-1/x.y_z"));
    CHECK(is_valid_name("a__b/c---d/e.f"));
    CHECK(is_valid_name("mirror.test/envs/app"));
    CHECK_FALSE(is_valid_name(""));
    CHECK_FALSE(is_valid_name("Alpine"));
    CHECK_FALSE(is_valid_name("/alpine"));
    CHECK_FALSE(is_valid_name("alpine/"));
    CHECK_FALSE(is_valid_name("a//b"));
    CHECK_FALSE(is_valid_name("a/../b"));
    CHECK_FALSE(is_valid_name(".."));
    CHECK_FALSE(is_valid_name("a..b"));
    CHECK_FALSE(is_valid_name("a___b"));
    CHECK_FALSE(is_valid_name("a._b"));
    CHECK_FALSE(is_valid_name("-a"));
    CHECK_FALSE(is_valid_name("a-"));
    CHECK_FALSE(is_valid_name("a b"));
    CHECK_FALSE(is_valid_name("a%2fb"));
}

TEST_CASE("a repository name longer than 255 characters is invalid", "[proxy][reference]") {
    CHECK(is_valid_name(std::string(255, 'a')));
    CHECK_FALSE(is_valid_name(std::string(256, 'a')));
}

TEST_CASE("tags follow the OCI grammar", "[proxy][reference]") {
    CHECK(is_valid_tag("latest"));
    CHECK(is_valid_tag("3.19"));
    CHECK(is_valid_tag("_x-Y.z"));
    CHECK(is_valid_tag(std::string(128, 'a')));
    CHECK_FALSE(is_valid_tag(std::string(129, 'a')));
    CHECK_FALSE(is_valid_tag(""));
    CHECK_FALSE(is_valid_tag(".hidden"));
    CHECK_FALSE(is_valid_tag("-x"));
    CHECK_FALSE(is_valid_tag("a/b"));
    CHECK_FALSE(is_valid_tag("a:b"));
}

TEST_CASE("only lowercase sha256 digests are accepted", "[proxy][reference]") {
    const std::string hex(64, 'a');
    CHECK(is_valid_digest("sha256:" + hex));
    CHECK_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
    CHECK_FALSE(is_valid_digest("sha256:" + hex.substr(1)));
    CHECK_FALSE(is_valid_digest("sha256:" + hex + "a"));
    CHECK_FALSE(is_valid_digest("sha512:" + std::string(128, 'a')));
    CHECK_FALSE(is_valid_digest("sha256:" + std::string(63, 'a') + "g"));
    CHECK_FALSE(is_valid_digest(hex));
}

TEST_CASE("hostile request paths are rejected by the strict decoder", "[proxy][reference]") {
    CHECK(decode_path("/v2/library/alpine/manifests/3") == "/v2/library/alpine/manifests/3");
    CHECK(decode_path("/v2/") == "/v2/");
    CHECK(decode_path("/v2/a/blobs/sha256%3Aab") == "/v2/a/blobs/sha256:ab");
    CHECK_FALSE(decode_path("/v2/%2e%2e/etc/passwd"));
    CHECK_FALSE(decode_path("/v2/%2E%2E/x"));
    CHECK_FALSE(decode_path("/v2/a%2fb/manifests/x"));
    CHECK_FALSE(decode_path("/v2/a%2Fb/manifests/x"));
    CHECK_FALSE(decode_path("/v2/../x"));
    CHECK_FALSE(decode_path("/v2/./x"));
    CHECK_FALSE(decode_path("/v2//x"));
    CHECK_FALSE(decode_path("/v2/a\\b"));
    CHECK_FALSE(decode_path("/v2/a%5cb"));
    CHECK_FALSE(decode_path("/v2/a%00b"));
    CHECK_FALSE(decode_path("/v2/a%2"));
    CHECK_FALSE(decode_path("/v2/a%zz"));
    CHECK_FALSE(decode_path("/v2/a%25"));
    CHECK_FALSE(decode_path("v2/a"));
}

TEST_CASE("query parameters are found and percent-decoded", "[proxy][reference]") {
    CHECK(query_param("ns=docker.io", "ns") == "docker.io");
    CHECK(query_param("n=10&last=a%2Db", "last") == "a-b");
    CHECK(query_param("n=10&last=x", "n") == "10");
    CHECK_FALSE(query_param("n=10", "ns"));
    CHECK_FALSE(query_param("", "ns"));
    CHECK_FALSE(query_param("ns=%zz", "ns"));
    CHECK(query_param("ns", "ns") == "");
}

TEST_CASE("single byte ranges are parsed against the blob size", "[proxy][reference]") {
    auto r = parse_range("bytes=0-9", 100);
    CHECK(r.kind == RangeKind::satisfiable);
    CHECK(r.range.first == 0);
    CHECK(r.range.last == 9);

    r = parse_range("bytes=90-", 100);
    CHECK(r.kind == RangeKind::satisfiable);
    CHECK(r.range.first == 90);
    CHECK(r.range.last == 99);

    r = parse_range("bytes=-10", 100);
    CHECK(r.kind == RangeKind::satisfiable);
    CHECK(r.range.first == 90);
    CHECK(r.range.last == 99);

    r = parse_range("bytes=-1000", 100);
    CHECK(r.kind == RangeKind::satisfiable);
    CHECK(r.range.first == 0);
    CHECK(r.range.length() == 100);

    r = parse_range("bytes=50-1000", 100);
    CHECK(r.kind == RangeKind::satisfiable);
    CHECK(r.range.last == 99);
}

TEST_CASE("ranges past the end are unsatisfiable, malformed ones ignored", "[proxy][reference]") {
    CHECK(parse_range("bytes=100-", 100).kind == RangeKind::unsatisfiable);
    CHECK(parse_range("bytes=200-300", 100).kind == RangeKind::unsatisfiable);
    CHECK(parse_range("bytes=-0", 100).kind == RangeKind::unsatisfiable);
    CHECK(parse_range("bytes=0-", 0).kind == RangeKind::unsatisfiable);
    CHECK(parse_range("bytes=9-1", 100).kind == RangeKind::none);
    CHECK(parse_range("bytes=0-1,5-6", 100).kind == RangeKind::none);
    CHECK(parse_range("items=0-1", 100).kind == RangeKind::none);
    CHECK(parse_range("bytes=a-b", 100).kind == RangeKind::none);
    CHECK(parse_range("bytes=-", 100).kind == RangeKind::none);
    CHECK(parse_range("", 100).kind == RangeKind::none);
}

TEST_CASE("Accept matching honours lists, parameters and wildcards", "[proxy][reference]") {
    const std::string oci(k_oci_manifest);
    CHECK(accepts("", oci));
    CHECK(accepts(oci, oci));
    CHECK(accepts(std::string(k_docker_manifest) + ", " + oci + ";q=0.5", oci));
    CHECK(accepts("*/*", oci));
    CHECK(accepts("application/*", oci));
    CHECK_FALSE(accepts(std::string(k_docker_manifest), oci));
    CHECK_FALSE(accepts("text/*", oci));
}

TEST_CASE("manifest children are read from config, layers and manifests", "[proxy][reference]") {
    const std::string a = "sha256:" + std::string(64, 'a');
    const std::string b = "sha256:" + std::string(64, 'b');
    const std::string c = "sha256:" + std::string(64, 'c');
    const auto image = parse_manifest_refs(R"({"schemaVersion":2,"config":{"digest":")" + a +
                                           R"("},"layers":[{"digest":")" + b + R"("}]})");
    REQUIRE(image);
    CHECK_FALSE(image->is_index);
    CHECK(image->blobs.size() == 2);
    CHECK(image->children.size() == 2);
    const auto index =
        parse_manifest_refs(R"({"mediaType":"x","manifests":[{"digest":")" + c + R"("}]})");
    REQUIRE(index);
    CHECK(index->is_index);
    CHECK(index->blobs.empty());
    CHECK(index->children.size() == 1);
    CHECK(index->media_type == "x");
    CHECK_FALSE(parse_manifest_refs("not json"));
}
