#include "environment/record.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

TEST_CASE("an environment record survives a JSON round trip", "[environment]") {
    EnvironmentRecord r;
    r.name = "my-env";
    r.version = "3";
    r.hash = std::string(64, 'e');
    r.canonical = "envcache-env-v1\nbase x\npython none\n";
    r.bundle = make_bundle("image: ubuntu\n", "dependencies: []\n", "numpy\n", "RUN true\n");
    r.bundle.includes["more.txt"] = "pandas\n";
    r.base = {"docker.io/library/ubuntu:latest", digest_of('a')};
    r.image = ImageDigest{"localhost:5000/envs/app:1", digest_of('b')};
    r.created = 1764000000;

    const auto text = boost::json::serialize(record_to_json(r));
    auto back = record_from_json(boost::json::parse(text));
    REQUIRE(back.has_value());
    CHECK(back->name == r.name);
    CHECK(back->version == r.version);
    CHECK(back->hash == r.hash);
    CHECK(back->canonical == r.canonical);
    CHECK(back->bundle.environment.text == "image: ubuntu\n");
    CHECK(back->bundle.environment.name == "env.yml");
    REQUIRE(back->bundle.conda_file.has_value());
    CHECK(back->bundle.conda_file->text == "dependencies: []\n");
    REQUIRE(back->bundle.requirements.has_value());
    CHECK(back->bundle.requirements->name == "requirements.txt");
    REQUIRE(back->bundle.dockerfile.has_value());
    CHECK(back->bundle.includes.at("more.txt") == "pandas\n");
    CHECK(back->base.digest == digest_of('a'));
    REQUIRE(back->image.has_value());
    CHECK(back->image->reference == "localhost:5000/envs/app:1");
    CHECK(back->created == 1764000000);
}

TEST_CASE("an anonymous record without an image round-trips with image null", "[environment]") {
    EnvironmentRecord r;
    r.hash = std::string(64, 'e');
    r.canonical = "c";
    r.bundle = make_bundle("image: ubuntu\n");
    const auto json = record_to_json(r);
    CHECK(json.at("image").is_null());
    auto back = record_from_json(json);
    REQUIRE(back.has_value());
    CHECK_FALSE(back->image.has_value());
    CHECK(back->name.empty());
}

TEST_CASE("a bundle from the API needs only environment and gets default names", "[environment]") {
    auto b = bundle_from_json(boost::json::parse(
        R"({"environment": "image: ubuntu:22.04\nconda_file: conda.yaml\n",
            "conda_file": "dependencies: [python=3.11.9]\n"})"));
    REQUIRE(b.has_value());
    CHECK(b->environment.name == "environment.yml");
    REQUIRE(b->conda_file.has_value());
    CHECK(b->conda_file->name == "conda.yml");
    CHECK_FALSE(b->requirements.has_value());
    CHECK(hash_bundle(*b, default_resolver()).has_value());
}

TEST_CASE("malformed bundles and records are errors", "[environment]") {
    CHECK_FALSE(bundle_from_json(boost::json::parse("[]")).has_value());
    CHECK_FALSE(bundle_from_json(boost::json::parse(R"({"conda_file": "x"})")).has_value());
    CHECK_FALSE(bundle_from_json(boost::json::parse(R"({"environment": 1})")).has_value());
    CHECK_FALSE(
        bundle_from_json(boost::json::parse(R"({"environment": "x", "includes": {"a": 1}})"))
            .has_value());
    CHECK_FALSE(record_from_json(boost::json::parse(R"({"hash": "x"})")).has_value());
}

TEST_CASE("hash results serialise with lint and an unresolved base as null digest",
          "[environment]") {
    const auto h = hashed(make_bundle("image: ubuntu:22.04\n"), ResolveImage{});
    const auto json = hashed_to_json(h);
    CHECK(json.at("hash").as_string() == h.hash);
    CHECK(json.at("offline").as_bool());
    CHECK(json.at("base").at("digest").is_null());
    const auto& lint = json.at("lint").as_array();
    REQUIRE_FALSE(lint.empty());
    CHECK(lint[0].at("rule").as_string() == "floating-base");
    CHECK(lint[0].at("line").as_int64() == 1);
    CHECK(lint[0].at("severity").as_string() == "warning");
}
