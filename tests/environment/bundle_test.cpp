#include "environment/bundle.hpp"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "environment/environment_hash.hpp"
#include "test_support.hpp"
#include "tests/common/temp_dir.hpp"

using namespace environment;
using namespace environment::testing;
namespace fs = std::filesystem;

namespace {

using test_util::TempDir;

}  // namespace

TEST_CASE("the loader reads referenced files relative to the environment file", "[environment]") {
    TempDir dir;
    dir.write("env/env.yml", "image: ubuntu:22.04\nconda_file: deps/conda.yml\n");
    dir.write("env/deps/conda.yml",
              "dependencies:\n  - python=3.11.9\n  - pip:\n    - -r ../reqs/base.txt\n");
    dir.write("env/reqs/base.txt", "numpy==1.26.4\n-r more.txt\n");
    dir.write("env/reqs/more.txt", "pandas==2.2.2\n");

    auto bundle = load_bundle(dir.path() / "env/env.yml");
    REQUIRE(bundle.has_value());
    REQUIRE(bundle->conda_file.has_value());
    CHECK(bundle->conda_file->name == (dir.path() / "env/deps/conda.yml").generic_string());
    CHECK(bundle->includes.size() == 2);

    const auto h = hashed(*bundle);
    CHECK(h.canonical.find("pip numpy==1.26.4\npip pandas==2.2.2\n") != std::string::npos);
}

TEST_CASE("the loader reads build.path/dockerfile_path and an extra requirements file",
          "[environment]") {
    TempDir dir;
    dir.write("env.yml", "build:\n  path: ctx\n  dockerfile_path: docker/Dockerfile.gpu\n");
    dir.write("ctx/docker/Dockerfile.gpu", "FROM python:3.11\nRUN true\n");
    dir.write("requirements.txt", "flask==3.0.3\n");
    auto bundle = load_bundle(dir.path() / "env.yml", dir.path() / "requirements.txt");
    REQUIRE(bundle.has_value());
    REQUIRE(bundle->dockerfile.has_value());
    CHECK(bundle->dockerfile->text == "FROM python:3.11\nRUN true\n");
    const auto h = hashed(*bundle);
    CHECK(h.canonical.find("step RUN true\npip flask==3.0.3\n") != std::string::npos);
}

TEST_CASE("a missing referenced file is an error naming it", "[environment]") {
    TempDir dir;
    dir.write("env.yml", "image: ubuntu\nconda_file: nope.yml\n");
    auto bundle = load_bundle(dir.path() / "env.yml");
    REQUIRE_FALSE(bundle.has_value());
    CHECK(bundle.error().file.find("nope.yml") != std::string::npos);
    CHECK_FALSE(load_bundle(dir.path() / "missing.yml").has_value());
}

TEST_CASE("a missing -r include is reported by the parser with its line", "[environment]") {
    TempDir dir;
    dir.write("env.yml", "image: ubuntu\n");
    dir.write("requirements.txt", "numpy==1.26.4\n-r gone.txt\n");
    auto bundle = load_bundle(dir.path() / "env.yml", dir.path() / "requirements.txt");
    REQUIRE(bundle.has_value());
    auto h = hash_bundle(*bundle, default_resolver());
    REQUIRE_FALSE(h.has_value());
    CHECK(h.error().line == 2);
    CHECK(h.error().file == (dir.path() / "requirements.txt").generic_string());
}
