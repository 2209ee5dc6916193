#include "environment/registry.hpp"

#include <catch2/catch.hpp>

using namespace environment;

TEST_CASE("AzureML- and Microsoft names are reserved for curated environments", "[environment]") {
    CHECK(is_reserved_name("AzureML-sklearn-1.5"));
    CHECK(is_reserved_name("azureml-minimal"));
    CHECK(is_reserved_name("Microsoft"));
    CHECK(is_reserved_name("MicrosoftFoo"));
    CHECK_FALSE(is_reserved_name("AzureML"));  // the prefix is "AzureML-"
    CHECK_FALSE(is_reserved_name("my-azureml-env"));
}

TEST_CASE("environment names and versions are validated", "[environment]") {
    CHECK(name_problem("my-env_1.0").empty());
    CHECK_FALSE(name_problem("").empty());
    CHECK_FALSE(name_problem("-x").empty());
    CHECK_FALSE(name_problem("a/b").empty());
    CHECK_FALSE(name_problem(std::string(256, 'a')).empty());
    CHECK(version_problem("3").empty());
    CHECK(version_problem("1.0.0-rc1").empty());
    CHECK_FALSE(version_problem("latest").empty());
    CHECK_FALSE(version_problem("1 0").empty());
    CHECK_FALSE(version_problem(std::string(65, '1')).empty());
}

TEST_CASE("a version is immutable: same hash is 200, another is 409", "[environment]") {
    const std::string a(64, 'a'), b(64, 'b');
    CHECK(check_version(std::nullopt, a) == VersionCheck::created);
    CHECK(http_status(check_version(std::nullopt, a)) == 201);
    CHECK(check_version(a, a) == VersionCheck::unchanged);
    CHECK(http_status(check_version(a, a)) == 200);
    CHECK(check_version(a, b) == VersionCheck::conflict);
    CHECK(http_status(check_version(a, b)) == 409);
}

TEST_CASE("environment hashes are 64 lowercase hex characters", "[environment]") {
    CHECK(is_environment_hash(std::string(64, 'f')));
    CHECK_FALSE(is_environment_hash(std::string(64, 'F')));
    CHECK_FALSE(is_environment_hash(std::string(63, 'f')));
    CHECK_FALSE(is_environment_hash("sha256:" + std::string(64, 'f')));
}
