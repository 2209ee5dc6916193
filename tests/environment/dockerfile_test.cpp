#include "environment/dockerfile.hpp"

#include <catch2/catch.hpp>

#include "environment/image_reference.hpp"

using namespace environment;

namespace {

std::vector<std::string> texts(std::string_view content) {
    auto parsed = parse_dockerfile("Dockerfile", content);
    REQUIRE(parsed.has_value());
    std::vector<std::string> out;
    for (const auto& i : *parsed)
        out.push_back(i.text());
    return out;
}

}  // namespace

TEST_CASE("Dockerfile steps are normalised", "[environment]") {
    CHECK(texts("# comment\n"
                "from   ubuntu:22.04\n"
                "\n"
                "run apt-get update && \\\n"
                "  # a comment inside the continuation\n"
                "    apt-get install -y \\\n"
                "        curl\t  git\n"
                "ENV A=\"x  y\"   B='p  q'\n"
                "CMD [\"bash\",  \"-c\"]\n") ==
          std::vector<std::string>{"FROM ubuntu:22.04",
                                   "RUN apt-get update && apt-get install -y curl git",
                                   "ENV A=\"x  y\" B='p  q'", "CMD [\"bash\", \"-c\"]"});
}

TEST_CASE("a continuation joins lines without adding a space", "[environment]") {
    CHECK(texts("RUN echo ab\\\ncd\n") == std::vector<std::string>{"RUN echo abcd"});
}

TEST_CASE("the escape parser directive changes the continuation character", "[environment]") {
    CHECK(texts("# escape=`\nRUN dir `\n  c:\\\\\n") == std::vector<std::string>{"RUN dir c:\\\\"});
}

TEST_CASE("instruction lines are the first line of each step", "[environment]") {
    auto parsed = parse_dockerfile("Dockerfile", "FROM a\n\nRUN x \\\n y\n# c\nUSER u\n");
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == 3);
    CHECK((*parsed)[1].line == 3);
    CHECK((*parsed)[2].line == 6);
}

TEST_CASE("an unknown Dockerfile instruction is an error with file and line", "[environment]") {
    auto parsed = parse_dockerfile("build/Dockerfile", "FROM a\nRUNN x\n");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().file == "build/Dockerfile");
    CHECK(parsed.error().line == 2);
    CHECK(parsed.error().str() == "build/Dockerfile:2:1: unknown Dockerfile instruction 'RUNN'");
}

TEST_CASE("image references are normalised like docker does", "[environment]") {
    CHECK(parse_image_reference("ubuntu")->str() == "docker.io/library/ubuntu:latest");
    CHECK(parse_image_reference("ubuntu:22.04")->str() == "docker.io/library/ubuntu:22.04");
    CHECK(parse_image_reference("index.docker.io/org/app:1")->str() == "docker.io/org/app:1");
    CHECK(parse_image_reference("localhost:5000/app")->str() == "localhost:5000/app:latest");
    CHECK(parse_image_reference("mcr.microsoft.com/azureml/base:20240101")->registry ==
          "mcr.microsoft.com");
    const std::string digest = "sha256:" + std::string(64, 'e');
    auto pinned = parse_image_reference("ubuntu:22.04@" + digest);
    REQUIRE(pinned.has_value());
    CHECK(pinned->digest == digest);
    CHECK(pinned->tag == "22.04");
    CHECK(pinned->name() == "docker.io/library/ubuntu");
    CHECK_FALSE(parse_image_reference("ubuntu@sha256:abc").has_value());
    CHECK_FALSE(parse_image_reference("Ubuntu:22.04").has_value());
    CHECK_FALSE(parse_image_reference("${BASE}").has_value());
    CHECK_FALSE(parse_image_reference("").has_value());
}
