#include <catch2/catch.hpp>

#include "proxy/environments/environment_image.hpp"
#include "proxy/environments/environment_records.hpp"
#include "tests/proxy/environments_test_util.hpp"

using namespace proxy::environments;
using namespace proxy::environments::test;

TEST_CASE("an unmapped or unknown environment hash has no image to pull", "[environments]") {
    EnvFixture f;
    const std::string hash(64, 'c');
    auto none = image_for_hash(f.store(), hash);
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());

    // Known spec, no image yet.
    REQUIRE(save_hash_entry(f.store(), HashEntry{hash, std::nullopt, std::nullopt, 1}).has_value());
    auto unmapped = image_for_hash(f.store(), hash);
    REQUIRE(unmapped.has_value());
    CHECK_FALSE(unmapped->has_value());

    // Anything that is not a hash is simply not found (never a store key).
    auto bad = image_for_hash(f.store(), "../" + std::string(61, 'c'));
    REQUIRE(bad.has_value());
    CHECK_FALSE(bad->has_value());
}

TEST_CASE("a mapped environment hash pulls its image's upstream, repository and digest",
          "[environments]") {
    EnvFixture f;
    const std::string hash(64, 'd');
    HashEntry entry{hash, std::nullopt,
                    MappedImage{"localhost:5000/team/app:1", digest_of('e'), "local", "team/app",
                                "application/vnd.oci.image.manifest.v1+json", 5},
                    1};
    REQUIRE(save_hash_entry(f.store(), entry).has_value());
    auto image = image_for_hash(f.store(), hash);
    REQUIRE(image.has_value());
    REQUIRE(image->has_value());
    CHECK((*image)->upstream == "local");
    CHECK((*image)->repository == "team/app");
    CHECK((*image)->digest == digest_of('e'));
    CHECK((*image)->reference == "localhost:5000/team/app:1");
}

TEST_CASE("a corrupt environment record is an error, not a miss", "[environments]") {
    EnvFixture f;
    const std::string hash(64, 'f');
    REQUIRE(f.store().put_record("envs", hash, "{not json").has_value());
    CHECK_FALSE(image_for_hash(f.store(), hash).has_value());
}

TEST_CASE("the not-built message names the environment hash", "[environments]") {
    const std::string hash(64, 'a');
    CHECK(environment_not_built_message(hash) ==
          "environment " + hash + " has not been built (no image registered for it)");
}

TEST_CASE("pull repositories environments/<hash> give their hash", "[environments]") {
    CHECK(hash_of_pull_repository("environments/abc") == std::optional<std::string_view>("abc"));
    CHECK_FALSE(hash_of_pull_repository("environments/"));
    CHECK_FALSE(hash_of_pull_repository("environments/a/b"));
    CHECK_FALSE(hash_of_pull_repository("library/ubuntu"));
}
