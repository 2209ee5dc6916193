#include <catch2/catch.hpp>

#include "environment/environment_hash.hpp"
#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

namespace {

const Finding* find(const std::vector<Finding>& findings, std::string_view rule,
                    std::string_view subject) {
    for (const auto& f : findings)
        if (f.rule == rule && f.subject == subject) return &f;
    return nullptr;
}

}  // namespace

TEST_CASE("drift lint reports each finding with file, line and severity", "[environment]") {
    const auto h = hashed(make_bundle("name: e\nimage: ubuntu:latest\nconda_file: conda.yml\n",
                                      "channels: [conda-forge]\n"
                                      "dependencies:\n"
                                      "  - python=3.11\n"
                                      "  - numpy\n"
                                      "  - scipy=1.13.0\n"
                                      "  - pip:\n"
                                      "    - pandas>=1.3\n"
                                      "    - requests==2.31.*\n"
                                      "    - rich==13.7.1\n",
                                      "# extra\n\nflask\n"));
    const auto* base = find(h.findings, "floating-base", "docker.io/library/ubuntu:latest");
    REQUIRE(base != nullptr);
    CHECK(base->file == "env.yml");
    CHECK(base->line == 2);
    CHECK(base->severity == Severity::warning);
    CHECK(base->message.find("tag") != std::string::npos);

    const auto* python = find(h.findings, "partial", "python");
    REQUIRE(python != nullptr);
    CHECK(python->file == "conda.yml");
    CHECK(python->line == 3);

    const auto* numpy = find(h.findings, "unpinned", "numpy");
    REQUIRE(numpy != nullptr);
    CHECK(numpy->line == 4);
    CHECK(numpy->message.find("hash") != std::string::npos);

    const auto* pandas = find(h.findings, "range", "pandas");
    REQUIRE(pandas != nullptr);
    CHECK(pandas->file == "conda.yml");
    CHECK(pandas->line == 7);

    const auto* requests = find(h.findings, "partial", "requests");
    REQUIRE(requests != nullptr);
    CHECK(requests->line == 8);

    const auto* flask = find(h.findings, "unpinned", "flask");
    REQUIRE(flask != nullptr);
    CHECK(flask->file == "requirements.txt");
    CHECK(flask->line == 3);

    CHECK(find(h.findings, "unpinned", "scipy") == nullptr);
    CHECK(find(h.findings, "partial", "scipy") == nullptr);
    CHECK(find(h.findings, "unpinned", "rich") == nullptr);
    CHECK(find(h.findings, "no-python-pin", "python") == nullptr);
    CHECK(has_warnings(h.findings));
}

TEST_CASE("a fully pinned spec has no warnings", "[environment]") {
    const auto h =
        hashed(make_bundle("image: ubuntu@" + digest_of('a') + "\nconda_file: conda.yml\n",
                           "dependencies:\n  - python=3.11.9\n  - pip:\n"
                           "    - numpy==1.26.4\n"));
    CHECK(h.findings.empty());
    CHECK_FALSE(has_warnings(h.findings));
}

TEST_CASE("a conda file without python is reported", "[environment]") {
    const auto h = hashed(make_bundle("image: ubuntu:22.04\nconda_file: conda.yml\n",
                                      "dependencies: [numpy=1.26.4]\n"));
    const auto* f = find(h.findings, "no-python-pin", "python");
    REQUIRE(f != nullptr);
    CHECK(f->file == "conda.yml");
    CHECK(f->line == 1);
    CHECK(f->severity == Severity::warning);
}

TEST_CASE("a resolved tag is still reported as floating", "[environment]") {
    const auto h = hashed(make_bundle("image: ubuntu:22.04\n"));
    CHECK(find(h.findings, "floating-base", "docker.io/library/ubuntu:22.04") != nullptr);
    CHECK(find(h.findings, "unresolved-base", "docker.io/library/ubuntu:22.04") == nullptr);
}

TEST_CASE("an exact constraint pins an unpinned requirement", "[environment]") {
    Bundle b = make_bundle("image: ubuntu:22.04\n", std::nullopt, "-c c.txt\nnumpy\npandas\n");
    b.includes["c.txt"] = "numpy==1.26.4\n";
    const auto h = hashed(b);
    CHECK(find(h.findings, "unpinned", "numpy") == nullptr);
    CHECK(find(h.findings, "unpinned", "pandas") != nullptr);
}

TEST_CASE("build-context copies and editables are informational", "[environment]") {
    Bundle b =
        make_bundle("build: {path: .}\n", std::nullopt, "-e ./src\n",
                    "FROM ubuntu@" + digest_of('a') + "\nCOPY app /app\nCOPY --from=x /a /b\n");
    const auto h = hashed(b);
    const auto* copy = find(h.findings, "build-context", "COPY");
    REQUIRE(copy != nullptr);
    CHECK(copy->line == 2);
    CHECK(copy->severity == Severity::info);
    CHECK(find(h.findings, "editable", "./src") != nullptr);
    CHECK_FALSE(has_warnings(h.findings));
}

TEST_CASE("a finding prints as file:line: severity: [rule] message", "[environment]") {
    Finding f{"unpinned", Severity::warning, "conda.yml", 4, "numpy", "why"};
    CHECK(f.str() == "conda.yml:4: warning: [unpinned] why");
}
