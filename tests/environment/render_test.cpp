#include "environment/render.hpp"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

namespace {

RenderedBuild render(const Bundle& bundle, const ResolveImage& resolve = default_resolver()) {
    auto spec = parse_spec(bundle);
    REQUIRE(spec.has_value());
    auto h = hash_environment(*spec, resolve);
    REQUIRE(h.has_value());
    return render_build(*spec, *h);
}

const ContextFile* file(const RenderedBuild& b, std::string_view path) {
    for (const auto& f : b.files)
        if (f.path == path) return &f;
    return nullptr;
}

}  // namespace

TEST_CASE("the rendered Dockerfile pins the base by digest and builds /envs/<hash>",
          "[environment]") {
    const auto bundle = make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                    "channels: [conda-forge, defaults]\n"
                                    "dependencies:\n  - python=3.11.9\n  - pip=24.0\n"
                                    "  - pip: [numpy==1.26.4]\n",
                                    std::nullopt, "RUN apt-get update\n");
    const auto hash = hashed(bundle).hash;
    const auto b = render(bundle);
    const auto& d = b.dockerfile;
    const std::string from = "FROM docker.io/library/ubuntu@" + digest_of('a') + "\n";
    REQUIRE(d.find(from) != std::string::npos);
    CHECK(d.find("RUN apt-get update\n") > d.find(from));
    CHECK(d.find("conda env create -p /envs/" + hash + " -f /envcache-setup/conda.yml") !=
          std::string::npos);
    CHECK(d.find("RUN /envs/" + hash + "/bin/python -m pip install") != std::string::npos);
    CHECK(d.find("ENV PATH=/envs/" + hash + "/bin:$PATH\n") != std::string::npos);
    CHECK(d.find("WARNING") == std::string::npos);

    const auto* conda = file(b, "envcache-setup/conda.yml");
    REQUIRE(conda != nullptr);
    const auto yaml = YAML::Load(conda->text);
    CHECK(yaml["channels"][0].as<std::string>() == "conda-forge");
    CHECK(yaml["channels"][1].as<std::string>() == "defaults");
    CHECK(yaml["dependencies"].size() == 2);
    const auto* reqs = file(b, "envcache-setup/requirements.txt");
    REQUIRE(reqs != nullptr);
    CHECK(reqs->text == "numpy==1.26.4\n");
}

TEST_CASE("a Dockerfile build keeps its steps, platform and stage after the pinned FROM",
          "[environment]") {
    const auto b = render(make_bundle("build: {path: .}\n", std::nullopt, std::nullopt,
                                      "FROM --platform=linux/amd64 python:3.11 AS app\n"
                                      "RUN pip --version\nUSER 1000\n"));
    CHECK(b.dockerfile.find("FROM --platform=linux/amd64 docker.io/library/python@" +
                            digest_of('b') + " AS app\nRUN pip --version\nUSER 1000\n") !=
          std::string::npos);
    CHECK(b.files.empty());
    CHECK(b.dockerfile.find("ENV PATH") == std::string::npos);
}

TEST_CASE("pip requirements without a conda file go into a venv at /envs/<hash>", "[environment]") {
    Bundle bundle = make_bundle("image: python:3.11\n", std::nullopt,
                                "--index-url https://pypi.example.com/simple\n-c c.txt\n"
                                "NumPy==1.26.4\n");
    bundle.includes["c.txt"] = "scipy==1.13.0\n";
    const auto hash = hashed(bundle).hash;
    const auto b = render(bundle);
    CHECK(b.dockerfile.find("RUN python3 -m venv /envs/" + hash + "\n") != std::string::npos);
    const auto* reqs = file(b, "envcache-setup/requirements.txt");
    REQUIRE(reqs != nullptr);
    CHECK(reqs->text ==
          "--index-url https://pypi.example.com/simple\n-c constraints.txt\nnumpy==1.26.4\n");
    const auto* constraints = file(b, "envcache-setup/constraints.txt");
    REQUIRE(constraints != nullptr);
    CHECK(constraints->text == "scipy==1.13.0\n");
}

TEST_CASE("an offline render says the base is not pinned", "[environment]") {
    const auto b = render(make_bundle("image: ubuntu:22.04\n"), ResolveImage{});
    CHECK(b.dockerfile.find("WARNING") != std::string::npos);
    CHECK(b.dockerfile.find("FROM docker.io/library/ubuntu:22.04\n") != std::string::npos);
}
