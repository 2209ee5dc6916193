#include "environment/spec.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

TEST_CASE("the Azure ML v2 environment fields are read", "[environment]") {
    auto spec = parse_spec(make_bundle(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: my-env\nversion: 3\ndescription: d\ntags: {a: b}\n"
        "image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20240101\n"
        "conda_file: conda.yml\ninference_config:\n  liveness_route: {port: 5001, path: /}\n",
        "channels: [conda-forge]\ndependencies: [python=3.11.9, numpy=1.26.4]\n"));
    REQUIRE(spec.has_value());
    CHECK(spec->name == "my-env");
    CHECK(spec->version == "3");
    CHECK(spec->base.registry == "mcr.microsoft.com");
    CHECK(spec->base.tag == "20240101");
    CHECK(spec->channels == std::vector<std::string>{"conda-forge"});
    REQUIRE(spec->conda.size() == 2);
    REQUIRE(spec->python() != nullptr);
    CHECK(spec->python()->dependency.version == "=3.11.9");
}

TEST_CASE("a conda file can be given inline in the environment file", "[environment]") {
    auto inline_spec =
        hashed(make_bundle("image: ubuntu:22.04\nconda_file:\n"
                           "  channels: [conda-forge]\n"
                           "  dependencies: [python=3.11.9]\n"));
    auto file_spec = hashed(make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                        "channels: [conda-forge]\n"
                                        "dependencies: [python=3.11.9]\n"));
    CHECK(inline_spec.hash == file_spec.hash);
}

TEST_CASE("malformed environment YAML is an error with file, line and column", "[environment]") {
    auto spec = parse_spec(make_bundle("name: x\nimage: [ubuntu\nconda_file: c.yml\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "env.yml");
    CHECK(spec.error().line >= 2);
    CHECK(spec.error().column >= 1);
}

TEST_CASE("a bad indentation is reported at its line", "[environment]") {
    auto spec = parse_spec(make_bundle("name: x\nimage: ubuntu:22.04\n  bad: indent\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "env.yml");
    CHECK(spec.error().line == 3);
}

TEST_CASE("malformed conda YAML names the conda file", "[environment]") {
    auto spec = parse_spec(make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                       "channels:\n  - a\ndependencies: {\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "conda.yml");
    CHECK(spec.error().line >= 3);
}

TEST_CASE("a bad conda dependency names its file, line and column", "[environment]") {
    auto spec = parse_spec(make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                       "channels: [defaults]\ndependencies:\n"
                                       "  - numpy=1.26.4\n  - =oops\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "conda.yml");
    CHECK(spec.error().line == 4);
    CHECK(spec.error().column == 5);
}

TEST_CASE("a bad pip entry in a conda file names its line", "[environment]") {
    auto spec = parse_spec(make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                       "dependencies:\n  - python=3.11.9\n  - pip:\n"
                                       "    - numpy==1\n    - numpy>>2\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "conda.yml");
    CHECK(spec.error().line == 5);
}

TEST_CASE("unknown keys are errors, so typos do not silently drop packages", "[environment]") {
    auto spec = parse_spec(make_bundle("image: ubuntu:22.04\nconda_flie: conda.yml\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().line == 2);
    CHECK(spec.error().column == 1);
    CHECK(spec.error().message.find("conda_flie") != std::string::npos);
    auto conda = parse_spec(make_bundle("image: ubuntu:22.04\n", "dependancies: [numpy]\n"));
    REQUIRE_FALSE(conda.has_value());
    CHECK(conda.error().file == "conda.yml");
}

TEST_CASE("type mismatches are errors, not exceptions", "[environment]") {
    CHECK_FALSE(parse_spec(make_bundle("image: {a: b}\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("- a\n- b\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("image: ubuntu\n", "channels: x\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("image: ubuntu\n", "dependencies: [[a]]\n")).has_value());
    CHECK_FALSE(
        parse_spec(make_bundle("image: ubuntu\n", "dependencies: [{pip: x}]\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("image: ubuntu\nbuild: x\n")).has_value());
}

TEST_CASE("a referenced part missing from the bundle is an error", "[environment]") {
    CHECK_FALSE(parse_spec(make_bundle("image: ubuntu\nconda_file: conda.yml\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("build:\n  path: .\n")).has_value());
    CHECK_FALSE(parse_spec(make_bundle("name: no-base\n")).has_value());
}

TEST_CASE("image: and a Dockerfile FROM together are an error", "[environment]") {
    auto spec = parse_spec(
        make_bundle("image: ubuntu:22.04\n", std::nullopt, std::nullopt, "FROM debian\n"));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().file == "Dockerfile");
    CHECK(spec.error().line == 1);
}

TEST_CASE("a Dockerfile's first FROM is the base, with platform and stage kept", "[environment]") {
    auto spec = parse_spec(make_bundle("build: {path: .}\n", std::nullopt, std::nullopt,
                                       "ARG X=1\nFROM --platform=linux/amd64 python:3.11 AS b\n"
                                       "RUN true\n"));
    REQUIRE(spec.has_value());
    CHECK(spec->base.str() == "docker.io/library/python:3.11");
    CHECK(spec->platform == "linux/amd64");
    CHECK(spec->stage == "b");
    CHECK(spec->base_where.line == 2);
    REQUIRE(spec->steps.size() == 2);
    CHECK(spec->steps[0].text() == "ARG X=1");
}
