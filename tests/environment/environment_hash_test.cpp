#include "environment/environment_hash.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

namespace {

const std::string k_env = R"(name: training
version: "1"
image: ubuntu:22.04
conda_file: conda.yml
)";

const std::string k_conda = R"(name: t
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11.9
  - numpy=1.26.4
  - pip=24.0
  - pip:
      - Requests==2.31.0
      - scikit_learn == 1.4.2
)";

std::string hash_of(const std::string& env, const std::string& conda = k_conda) {
    return hashed(make_bundle(env, conda)).hash;
}

std::string hash_with_conda(const std::string& conda) {
    return hash_of(k_env, conda);
}

}  // namespace

TEST_CASE("a conda environment has the documented canonical form and hash", "[environment]") {
    const auto h = hashed(make_bundle(k_env, k_conda));
    CHECK(h.canonical ==
          "envcache-env-v1\n"
          "base " +
              digest_of('a') +
              "\n"
              "channel conda-forge\n"
              "channel defaults\n"
              "conda numpy=1.26.4\n"
              "conda pip=24.0\n"
              "conda python=3.11.9\n"
              "pip requests==2.31.0\n"
              "pip scikit-learn==1.4.2\n"
              "python =3.11.9\n");
    // Computed once with: printf '<canonical>' | sha256sum
    CHECK(h.hash == "3790775b01d1444c9f77282444a8d70d708688fa67fda4df87fb57e39942dd26");
    CHECK(h.base.digest == digest_of('a'));
    CHECK(h.base.name == "docker.io/library/ubuntu");
    CHECK_FALSE(h.offline);
}

TEST_CASE("a Dockerfile build with requirements has the documented canonical form and hash",
          "[environment]") {
    const auto h =
        hashed(make_bundle("name: web\nbuild:\n  path: .\n", std::nullopt, "numpy==1.26.4\n",
                           "# syntax=docker/dockerfile:1\n"
                           "FROM python:3.11 AS base\n"
                           "# install tools\n"
                           "run apt-get update && \\\n"
                           "    apt-get install -y   curl\n"
                           "\n"
                           "ENV  LANG=C.UTF-8\n"));
    CHECK(h.canonical ==
          "envcache-env-v1\n"
          "base " +
              digest_of('b') +
              "\n"
              "step RUN apt-get update && apt-get install -y curl\n"
              "step ENV LANG=C.UTF-8\n"
              "pip numpy==1.26.4\n"
              "python none\n");
    CHECK(h.hash == "1a2bf7d625f4ed6b73d5b1b37387630cf0bd0a6621a903b8d3079ba1ab01d0b5");
}

TEST_CASE("the hash is the SHA-256 of the canonical text in lowercase hex", "[environment]") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const auto h = hashed(make_bundle(k_env, k_conda));
    CHECK(h.hash == sha256_hex(h.canonical));
    CHECK(h.hash.size() == 64);
    CHECK(h.hash.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("name, version, description and tags do not change the hash", "[environment]") {
    const auto base = hash_of(k_env);
    CHECK(hash_of("name: other\nversion: 7\nimage: ubuntu:22.04\nconda_file: conda.yml\n"
                  "description: something else\ntags:\n  team: ml\n") == base);
    CHECK(hash_of("image: ubuntu:22.04\nconda_file: conda.yml\n") == base);
    CHECK(hash_of("$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
                  "image: ubuntu:22.04\nconda_file: conda.yml\n") == base);
}

TEST_CASE("comments, whitespace and key order do not change the hash", "[environment]") {
    const auto base = hash_of(k_env);
    CHECK(hash_of("# the training environment\nconda_file:   conda.yml   # deps\n"
                  "\n\nimage:    ubuntu:22.04\nname: training\n") == base);
    CHECK(hash_with_conda("dependencies:\n"
                          "- python=3.11.9   # interpreter\n"
                          "- numpy=1.26.4\n"
                          "- pip=24.0\n"
                          "- pip: [\"Requests==2.31.0\", \"scikit_learn == 1.4.2\"]\n"
                          "channels: [conda-forge, defaults]\n") == base);
}

TEST_CASE("dependency order does not change the hash", "[environment]") {
    const auto base = hash_of(k_env);
    CHECK(hash_with_conda("channels: [conda-forge, defaults]\n"
                          "dependencies:\n"
                          "  - pip:\n"
                          "      - scikit_learn == 1.4.2\n"
                          "      - Requests==2.31.0\n"
                          "  - pip=24.0\n"
                          "  - numpy=1.26.4\n"
                          "  - python=3.11.9\n") == base);
}

TEST_CASE("numpy==1.26.4 and NumPy == 1.26.4 hash the same", "[environment]") {
    const std::string env = "image: ubuntu:22.04\n";
    const auto a = hashed(make_bundle(env, std::nullopt, "numpy==1.26.4\n")).hash;
    CHECK(hashed(make_bundle(env, std::nullopt, "NumPy == 1.26.4\n")).hash == a);
    CHECK(hashed(make_bundle(env, std::nullopt, "numpy ==1.26.4  # pinned\n")).hash == a);
}

TEST_CASE("another package version changes the hash", "[environment]") {
    const auto base = hash_of(k_env);
    std::string conda = k_conda;
    conda.replace(conda.find("numpy=1.26.4"), 12, "numpy=1.26.3");
    CHECK(hash_with_conda(conda) != base);
    conda = k_conda;
    conda.replace(conda.find("Requests==2.31.0"), 16, "Requests==2.32.0");
    CHECK(hash_with_conda(conda) != base);
}

TEST_CASE("adding or removing a package changes the hash", "[environment]") {
    const auto base = hash_of(k_env);
    CHECK(hash_with_conda(k_conda + "      - pandas==2.2.2\n") != base);
    std::string conda = k_conda;
    conda.erase(conda.find("  - numpy=1.26.4\n"), 17);
    CHECK(hash_with_conda(conda) != base);
}

TEST_CASE("another channel order changes the hash", "[environment]") {
    std::string conda = k_conda;
    conda.replace(conda.find("  - conda-forge\n  - defaults\n"), 29,
                  "  - defaults\n  - conda-forge\n");
    CHECK(hash_with_conda(conda) != hash_of(k_env));
}

TEST_CASE("a moved :latest tag gives a new hash", "[environment]") {
    const auto bundle = make_bundle("image: ubuntu:latest\n", k_conda);
    const auto before =
        hashed(bundle, table_resolver({{"docker.io/library/ubuntu:latest", digest_of('1')}}));
    const auto after =
        hashed(bundle, table_resolver({{"docker.io/library/ubuntu:latest", digest_of('2')}}));
    CHECK(before.hash != after.hash);
    CHECK(before.base.digest == digest_of('1'));
    CHECK(after.base.digest == digest_of('2'));
}

TEST_CASE("the base image is hashed by digest, not by how it is named", "[environment]") {
    const auto by_tag = hash_of(k_env);
    CHECK(hash_of("image: docker.io/library/ubuntu@" + digest_of('a') +
                  "\nconda_file: conda.yml\n") == by_tag);
    CHECK(hash_of("image: ubuntu:22.04@" + digest_of('a') + "\nconda_file: conda.yml\n") == by_tag);
    CHECK(hash_of("image: ubuntu@" + digest_of('d') + "\nconda_file: conda.yml\n") != by_tag);
}

TEST_CASE("other Docker steps change the hash", "[environment]") {
    const std::string env = "build:\n  path: .\n";
    auto hash = [&](const std::string& dockerfile) {
        return hashed(make_bundle(env, std::nullopt, std::nullopt, dockerfile)).hash;
    };
    const auto base = hash("FROM ubuntu:22.04\nRUN apt-get update\n");
    CHECK(hash("FROM ubuntu:22.04\nRUN apt-get update\nRUN echo hi\n") != base);
    CHECK(hash("FROM ubuntu:22.04\nRUN apt-get  update\n# c\n") == base);
    CHECK(hash("from ubuntu:22.04\nrun apt-get update\n") == base);
    CHECK(hash("FROM ubuntu:22.04\nRUN apt-get upgrade\n") != base);
    CHECK(hash("FROM ubuntu:22.04\nUSER root\nRUN apt-get update\n") != base);
}

TEST_CASE("Docker steps given next to image: follow the base image", "[environment]") {
    const auto h = hashed(
        make_bundle("image: ubuntu:22.04\n", std::nullopt, std::nullopt, "RUN apt-get update\n"));
    CHECK(h.canonical ==
          "envcache-env-v1\nbase " + digest_of('a') + "\nstep RUN apt-get update\npython none\n");
}

TEST_CASE("offline, a tag is hashed as written and lint says the hash is not stable",
          "[environment]") {
    const auto h = hashed(make_bundle(k_env, k_conda), ResolveImage{});
    CHECK(h.offline);
    CHECK_FALSE(h.base.resolved());
    CHECK(h.canonical.find("base docker.io/library/ubuntu:22.04\n") != std::string::npos);
    CHECK(h.hash != hash_of(k_env));
    const auto it = std::find_if(h.findings.begin(), h.findings.end(),
                                 [](const Finding& f) { return f.rule == "unresolved-base"; });
    REQUIRE(it != h.findings.end());
    CHECK(it->severity == Severity::warning);
    CHECK(it->file == "env.yml");
    CHECK(it->line == 3);
}

TEST_CASE("offline, a base written with a digest gives the online hash", "[environment]") {
    const std::string env = "image: ubuntu@" + digest_of('a') + "\nconda_file: conda.yml\n";
    const auto offline = hashed(make_bundle(env, k_conda), ResolveImage{});
    CHECK(offline.hash == hash_of(k_env));
    CHECK(offline.base.resolved());
}

TEST_CASE("a resolver failure is an error naming the image line", "[environment]") {
    auto h = hash_bundle(make_bundle("name: x\nimage: ubuntu:18.04\n"), default_resolver());
    REQUIRE_FALSE(h.has_value());
    CHECK(h.error().file == "env.yml");
    CHECK(h.error().line == 2);
    CHECK(h.error().message.find("ubuntu:18.04") != std::string::npos);
}

TEST_CASE("a base resolved beforehand by the caller hashes like a resolver", "[environment]") {
    auto spec = parse_spec(make_bundle(k_env, k_conda));
    REQUIRE(spec.has_value());
    CHECK(spec->base.str() == "docker.io/library/ubuntu:22.04");  // what the caller resolves
    auto h = hash_environment(*spec, resolved_to(digest_of('a')));
    REQUIRE(h.has_value());
    CHECK(h->hash == hash_of(k_env));
}

TEST_CASE("a resolver answer that is not a digest is an error", "[environment]") {
    auto h = hash_bundle(make_bundle("image: ubuntu:22.04\n"),
                         table_resolver({{"docker.io/library/ubuntu:22.04", "ubuntu:22.04"}}));
    REQUIRE_FALSE(h.has_value());
}
