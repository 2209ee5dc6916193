#include <string>

#include <catch2/catch.hpp>

#include "config/load.hpp"
#include "tests/common/temp_dir.hpp"
#include "tests/config/config_test_util.hpp"

using std::chrono::seconds;
using test_util::accepted;
using test_util::rejected;
using test_util::TempDir;

namespace {

const std::string k_upstreams =
    "upstreams:\n"
    "  - {name: docker.io, url: \"https://registry-1.docker.io\", default: true}\n"
    "  - {name: private.example, url: \"https://private.example\", access: passthrough,\n"
    "     decision_ttl: 2m, denial_ttl: 15s}\n";

}  // namespace

TEST_CASE("without an access section access stays off and upstreams are shared", "[config]") {
    const auto c = accepted("upstreams:\n  - {name: docker.io, url: \"https://x.example\"}\n");
    CHECK_FALSE(c.access.enabled);
    CHECK(c.upstreams[0].access == config::UpstreamConfig::Access::shared);
    CHECK(c.upstreams[0].decision_ttl == seconds{60});
    CHECK(c.upstreams[0].denial_ttl == seconds{10});
}

TEST_CASE("the access section is read into rules, groups and identity files", "[config]") {
    TempDir dir;
    const auto htpasswd = dir.write("htpasswd", "alice:$2y$05$abc\n");
    const auto tokens = dir.write("tokens", "ci 0123456789\n");
    const auto c = accepted(k_upstreams +
                            "access:\n"
                            "  htpasswd_file: " +
                            htpasswd.string() +
                            "\n"
                            "  tokens_file: " +
                            tokens.string() +
                            "\n"
                            "  issued_token_ttl: 10m\n"
                            "  groups:\n"
                            "    ml: [alice, bob]\n"
                            "  rules:\n"
                            "    - who: [group:ml, ci]\n"
                            "      pull: {docker.io: [\"library/*\", \"ml/**\"], \"*\": x}\n"
                            "      environments: write\n"
                            "    - who: anonymous\n"
                            "      pull: {docker.io: \"library/alpine\"}\n"
                            "      environments: read\n"
                            "    - {who: [alice], admin: true}\n");
    REQUIRE(c.access.enabled);
    CHECK(c.access.htpasswd_file == htpasswd.string());
    CHECK(c.access.tokens_file == tokens.string());
    CHECK(c.access.issued_token_ttl == seconds{600});
    REQUIRE(c.access.groups.size() == 1);
    CHECK(c.access.groups[0].second == std::vector<std::string>{"alice", "bob"});
    REQUIRE(c.access.rules.size() == 3);
    CHECK(c.access.rules[0].who == std::vector<std::string>{"group:ml", "ci"});
    REQUIRE(c.access.rules[0].pull.size() == 2);
    CHECK(c.access.rules[0].pull[0].repos == std::vector<std::string>{"library/*", "ml/**"});
    CHECK(c.access.rules[0].pull[1].upstream == "*");
    CHECK(c.access.rules[0].environments == config::AccessRule::Environments::write);
    CHECK(c.access.rules[1].who == std::vector<std::string>{"anonymous"});
    CHECK(c.access.rules[1].environments == config::AccessRule::Environments::read);
    CHECK(c.access.rules[2].admin);
    CHECK(c.upstreams[1].access == config::UpstreamConfig::Access::passthrough);
    CHECK(c.upstreams[1].decision_ttl == seconds{120});
    CHECK(c.upstreams[1].denial_ttl == seconds{15});
}

TEST_CASE("an empty access section turns access on with no rules: nothing allowed", "[config]") {
    const auto c = accepted(k_upstreams + "access:\n");
    CHECK(c.access.enabled);
    CHECK(c.access.rules.empty());
}

TEST_CASE("mistakes in the access section name file, line and key", "[config]") {
    CHECK(rejected(k_upstreams + "access:\n  rules:\n    - pull: {docker.io: [x]}\n") ==
          "test.yml:7: access.rules[0].who: is required: the identities, group:<name>, "
          "anonymous or authenticated");
    CHECK(rejected(k_upstreams + "access:\n  rules:\n    - {who: a, pull: {quay.io: [x]}}\n") ==
          "test.yml:7: access.rules[0].pull.quay.io: \"quay.io\" is not the name of an upstream "
          "(or \"*\" for all)");
    CHECK(rejected(k_upstreams + "access:\n  rules:\n    - {who: \"group:ops\"}\n") ==
          "test.yml:7: access.rules[0].who: \"ops\" is not a group in access.groups");
    CHECK(rejected(k_upstreams + "access:\n  rules:\n    - {who: a, environments: all}\n") ==
          "test.yml:7: access.rules[0].environments: \"all\" is not an access level (use none, "
          "read or write)");
    CHECK(rejected(k_upstreams + "access:\n  htpasswd_file: /nonexistent/htpasswd\n") ==
          "test.yml:6: access.htpasswd_file: cannot read \"/nonexistent/htpasswd\"");
    CHECK(rejected(k_upstreams + "access:\n  rules:\n    - {who: a, admn: true}\n") ==
          "test.yml:7: access.rules[0].admn: unknown key; did you mean admin?");
}

TEST_CASE("an empty identity file path is unset, as every optional path key is", "[config]") {
    const auto c = accepted(k_upstreams + "access:\n  htpasswd_file: \"\"\n  tokens_file: \"\"\n");
    CHECK(c.access.enabled);
    CHECK(c.access.htpasswd_file.empty());
    CHECK(c.access.tokens_file.empty());
    const auto null = accepted(k_upstreams + "access:\n  htpasswd_file:\n  tokens_file: ~\n");
    CHECK(null.access.htpasswd_file.empty());
    CHECK(null.access.tokens_file.empty());
}

TEST_CASE("an upstream's access mode and decision times are checked", "[config]") {
    CHECK(rejected("upstreams:\n  - {name: a, url: \"https://a.example\", access: open}\n") ==
          "test.yml:2: upstreams[0].access: \"open\" is not an access mode (use shared or "
          "passthrough)");
    CHECK(rejected("upstreams:\n  - {name: a, url: \"https://a.example\", decision_ttl: 1m,\n"
                   "     denial_ttl: 2m}\n") ==
          "test.yml:3: upstreams[0].denial_ttl: must not be longer than decision_ttl (60s)");
    CHECK(rejected("upstreams:\n  - {name: a, url: \"https://a.example\", decision_ttl: 0s}\n") ==
          "test.yml:2: upstreams[0].decision_ttl: must be greater than 0");
    // A short decision_ttl shortens the default denial_ttl with it.
    const auto c =
        accepted("upstreams:\n  - {name: a, url: \"https://a.example\", decision_ttl: 5s}\n");
    CHECK(c.upstreams[0].denial_ttl == seconds{5});
}
