#include <random>

#include <catch2/catch.hpp>

#include "environment/environment_hash.hpp"
#include "environment/render.hpp"
#include "test_support.hpp"

using namespace environment;
using namespace environment::testing;

namespace {

const std::string k_env = "name: e\nimage: ubuntu:22.04\nconda_file: conda.yml\n";
const std::string k_conda =
    "channels: [conda-forge]\ndependencies:\n  - python=3.11.9\n  - numpy>=1.20,<2\n"
    "  - pytorch::pytorch=2.1.0=py311_0\n  - pip:\n    - Requests[socks]==2.31.0 ; "
    "python_version < \"3.12\"\n    - -r more.txt\n";
const std::string k_requirements =
    "--index-url https://x/simple\nflask==3.0.3 \\\n"
    "  --hash=sha256:abc\n-c c.txt\n-e ./src\n";
const std::string k_dockerfile =
    "RUN apt-get update && \\\n  apt-get install -y curl\n"
    "ENV A=\"x  y\"\n";

std::string mutate(std::string s, std::mt19937& rng) {
    const std::string alphabet = " \n\t\\#:=<>[]{}()'\"-_.@;,*|~!$`";
    std::uniform_int_distribution<int> op(0, 2);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < edits; ++i) {
        if (s.empty()) s = "x";
        const std::size_t pos = rng() % (s.size() + 1);
        switch (op(rng)) {
            case 0:
                s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
                break;
            case 1:
                if (pos < s.size()) s.erase(pos, 1 + rng() % 3);
                break;
            default:
                if (pos < s.size()) s[pos] = alphabet[rng() % alphabet.size()];
                break;
        }
    }
    return s;
}

}  // namespace

TEST_CASE("mangled specs give a hash or an error, never an exception or a crash", "[environment]") {
    std::mt19937 rng(20261125);  // fixed seed: the same inputs on every run
    int errors = 0;
    for (int i = 0; i < 3000; ++i) {
        Bundle b = make_bundle(k_env, k_conda, k_requirements, k_dockerfile);
        switch (i % 5) {
            case 0:
                b.environment.text = mutate(b.environment.text, rng);
                break;
            case 1:
                b.conda_file->text = mutate(b.conda_file->text, rng);
                break;
            case 2:
                b.requirements->text = mutate(b.requirements->text, rng);
                break;
            case 3:
                b.dockerfile->text = mutate(b.dockerfile->text, rng);
                break;
            default:
                b.includes["more.txt"] = mutate("pandas==2.2.2\n-r c.txt\n", rng);
                break;
        }
        b.includes.emplace("more.txt", "pandas==2.2.2\n");
        b.includes.emplace("c.txt", "numpy==1.26.4\n");
        INFO(b.environment.text << "\n---\n"
                                << b.conda_file->text << "\n---\n"
                                << b.requirements->text << "\n---\n"
                                << b.dockerfile->text);
        boost::system::result<HashedEnvironment, Error> h = Error{};
        REQUIRE_NOTHROW(h = hash_bundle(b, default_resolver()));
        if (!h) {
            ++errors;
            CHECK_FALSE(h.error().message.empty());
            continue;
        }
        CHECK(h->hash == sha256_hex(h->canonical));
        auto spec = parse_spec(b);
        REQUIRE(spec.has_value());
        REQUIRE_NOTHROW(render_build(*spec, *h));
    }
    CHECK(errors > 0);  // the mutations do reach the error paths
}
