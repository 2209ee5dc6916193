#include <string>

#include <catch2/catch.hpp>

#include "config/load.hpp"
#include "proxy/access/decisions.hpp"
#include "proxy/access/identities.hpp"
#include "proxy/access/membership.hpp"
#include "proxy/access/policy.hpp"
#include "tests/common/temp_dir.hpp"

using proxy::access::Caller;
using proxy::access::glob_match;
using test_util::TempDir;

namespace {

// `htpasswd -nbB -C 5 alice wonderland-7`
constexpr std::string_view k_alice =
    "alice:$2y$05$7j7c0nF6wezC9nOMsOJwZebggtjePcd2FpJJS4AJBH.gMbtJFxexC\n";

config::Config load(const std::string& yaml) {
    auto result = config::load_from_string(yaml, "test.yml");
    if (!result) FAIL(result.error().message());
    return *result;
}

Caller named(std::string name) {
    Caller c;
    c.kind = Caller::Kind::identified;
    c.name = name;
    c.names = {name};
    return c;
}

std::string basic(std::string_view user_pass) {
    // Precomputed: base64 of the test credentials.
    if (user_pass == "alice:wonderland-7") return "Basic YWxpY2U6d29uZGVybGFuZC03";
    if (user_pass == "alice:wrong") return "Basic YWxpY2U6d3Jvbmc=";
    FAIL("no encoding for the test credentials");
    return {};
}

const std::string k_config =
    "upstreams:\n"
    "  - {name: docker.io, url: \"https://registry-1.docker.io\", default: true}\n"
    "  - {name: ghcr.io, url: \"https://ghcr.io\", username: bot, password_env: HOME}\n"
    "access:\n"
    "  groups: {ml: [bob, \"ci-runner\"]}\n"
    "  rules:\n"
    "    - who: anonymous\n"
    "      pull: {docker.io: [\"library/*\"]}\n"
    "    - who: [group:ml]\n"
    "      pull: {ghcr.io: [\"ml/**\"], docker.io: [\"ml/*/base\"]}\n"
    "      environments: read\n"
    "    - who: alice\n"
    "      pull: {\"*\": [\"**\"]}\n"
    "      environments: write\n"
    "      admin: true\n"
    "    - {who: authenticated, pull: {docker.io: [\"public/*\"]}}\n";

}  // namespace

TEST_CASE("a glob's * stays within one path component and ** crosses them", "[access]") {
    CHECK(glob_match("library/*", "library/alpine"));
    CHECK_FALSE(glob_match("library/*", "library/alpine/extra"));
    CHECK_FALSE(glob_match("library/*", "library"));
    CHECK(glob_match("ml/**", "ml/team/a/b"));
    CHECK(glob_match("**", "anything/at/all"));
    CHECK(glob_match("ml/*/base", "ml/vision/base"));
    CHECK_FALSE(glob_match("ml/*/base", "ml/a/b/base"));
    CHECK(glob_match("pre*fix", "prefix"));
    CHECK(glob_match("exact", "exact"));
    CHECK_FALSE(glob_match("exact", "exact2"));
    CHECK_FALSE(glob_match("private/*", "public/x"));
}

TEST_CASE("without an access section everyone may do everything but be an admin", "[access]") {
    const proxy::access::Policy policy(
        load("upstreams:\n  - {name: docker.io, url: \"https://r.example\"}\n"));
    const Caller anonymous;
    CHECK_FALSE(policy.enabled());
    CHECK(policy.may_pull(anonymous, "docker.io", "any/repo"));
    CHECK(policy.may_write_environments(anonymous));
    CHECK_FALSE(policy.is_admin(anonymous));
}

TEST_CASE("rules grant pulls per identity, group and anonymous caller", "[access]") {
    const proxy::access::Policy policy(load(k_config));
    const Caller anonymous;
    CHECK(policy.may_pull(anonymous, "docker.io", "library/alpine"));
    CHECK_FALSE(policy.may_pull(anonymous, "docker.io", "ml/vision/base"));
    CHECK_FALSE(policy.may_pull(anonymous, "ghcr.io", "library/alpine"));
    CHECK_FALSE(policy.may_read_environments(anonymous));

    const Caller bob = named("bob");
    CHECK(policy.may_pull(bob, "ghcr.io", "ml/a/b"));
    CHECK(policy.may_pull(bob, "docker.io", "ml/vision/base"));
    CHECK(policy.may_pull(bob, "docker.io", "public/x"));              // authenticated
    CHECK_FALSE(policy.may_pull(bob, "docker.io", "library/alpine"));  // anonymous only
    CHECK(policy.may_read_environments(bob));
    CHECK_FALSE(policy.may_write_environments(bob));
    CHECK_FALSE(policy.is_admin(bob));

    const Caller alice = named("alice");
    CHECK(policy.may_pull(alice, "ghcr.io", "x/y/z"));
    CHECK(policy.may_write_environments(alice));
    CHECK(policy.is_admin(alice));

    Caller refused;
    refused.kind = Caller::Kind::refused;
    refused.name = "alice";
    refused.names = {"alice"};
    CHECK_FALSE(policy.may_pull(refused, "docker.io", "library/alpine"));
    CHECK_FALSE(policy.is_admin(refused));
}

TEST_CASE("a certificate's SAN counts as a name for rules and groups", "[access]") {
    const proxy::access::Policy policy(load(k_config));
    Caller cert;
    cert.kind = Caller::Kind::identified;
    cert.name = "node-17";
    cert.names = {"node-17", "ci-runner"};
    CHECK(policy.may_pull(cert, "ghcr.io", "ml/x"));
}

TEST_CASE("start-up warns of anonymous pulls from an upstream with credentials", "[access]") {
    const auto config = load(k_config);
    CHECK(proxy::access::Policy(config).anonymous_pulls_with_credentials(config.upstreams).empty());
    const auto open_config = load(
        "upstreams:\n  - {name: ghcr.io, url: \"https://ghcr.io\", username: bot,\n"
        "     password_env: HOME}\n");
    CHECK(proxy::access::Policy(open_config)
              .anonymous_pulls_with_credentials(open_config.upstreams) ==
          std::vector<std::string>{"ghcr.io"});
    const auto granted = load(
        "upstreams:\n  - {name: ghcr.io, url: \"https://ghcr.io\", username: bot,\n"
        "     password_env: HOME}\naccess:\n  rules:\n    - {who: anonymous, pull: {\"*\": "
        "[x]}}\n");
    CHECK(proxy::access::Policy(granted).anonymous_pulls_with_credentials(granted.upstreams) ==
          std::vector<std::string>{"ghcr.io"});
}

TEST_CASE("Basic credentials are checked against the htpasswd file's bcrypt hash", "[access]") {
    TempDir dir;
    config::AccessConfig config;
    config.enabled = true;
    config.htpasswd_file = dir.write("htpasswd", std::string("# users\n") + std::string(k_alice));
    proxy::access::Identities ids(config);
    const auto now = proxy::access::Identities::Clock::now();
    CHECK(ids.enabled());
    CHECK(ids.check_password("alice", "wonderland-7"));
    CHECK_FALSE(ids.check_password("alice", "wonderland-8"));
    CHECK_FALSE(ids.check_password("bob", "wonderland-7"));

    const Caller alice = ids.identify(basic("alice:wonderland-7"), {}, now);
    CHECK(alice.identified());
    CHECK(alice.name == "alice");
    // Remembered, and still right the second time.
    CHECK(ids.identify(basic("alice:wonderland-7"), {}, now).identified());
    CHECK(ids.identify(basic("alice:wrong"), {}, now).kind == Caller::Kind::refused);
    CHECK(ids.identify("Basic !!!", {}, now).kind == Caller::Kind::refused);
    CHECK(ids.identify("Digest x", {}, now).kind == Caller::Kind::refused);
    CHECK(ids.identify("", {}, now).kind == Caller::Kind::anonymous);
}

TEST_CASE("a wrong password with a client certificate still names the certificate", "[access]") {
    TempDir dir;
    config::AccessConfig config;
    config.enabled = true;
    config.htpasswd_file = dir.write("htpasswd", k_alice);
    proxy::access::Identities ids(config);
    const auto c = ids.identify(basic("alice:wrong"), {"node-1", "node-1.example"},
                                proxy::access::Identities::Clock::now());
    CHECK(c.identified());
    CHECK(c.name == "node-1");
    CHECK(c.names.size() == 2);
}

TEST_CASE("bearer tokens from the tokens file and issued ones name their identity", "[access]") {
    TempDir dir;
    config::AccessConfig config;
    config.enabled = true;
    config.tokens_file = dir.write("tokens", "# ci\nci-bot  s3cr3t-token\n");
    config.issued_token_ttl = std::chrono::seconds(60);
    proxy::access::Identities ids(config);
    const auto now = proxy::access::Identities::Clock::now();
    CHECK(ids.identify("Bearer s3cr3t-token", {}, now).name == "ci-bot");
    CHECK(ids.identify("bearer s3cr3t-token", {}, now).name == "ci-bot");
    CHECK(ids.identify("Bearer s3cr3t-tokex", {}, now).kind == Caller::Kind::refused);

    const std::string issued = ids.issue(named("carol"), now);
    CHECK(issued.size() == 64);
    CHECK(ids.identify("Bearer " + issued, {}, now).name == "carol");
    CHECK(ids.identify("Bearer " + issued, {}, now + std::chrono::seconds(61)).kind ==
          Caller::Kind::refused);
    const std::string anonymous = ids.issue(Caller{}, now);
    CHECK(ids.identify("Bearer " + anonymous, {}, now).kind == Caller::Kind::anonymous);
}

TEST_CASE("an htpasswd entry that is not bcrypt is a start-up error naming its line", "[access]") {
    TempDir dir;
    config::AccessConfig config;
    config.enabled = true;
    config.htpasswd_file = dir.write("htpasswd", std::string(k_alice) + "bob:{SHA}abc=\n");
    try {
        proxy::access::Identities ids(config);
        FAIL("accepted");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == config.htpasswd_file +
                                           ":2: user bob: not a bcrypt hash (write the file "
                                           "with htpasswd -B)");
    }
}

TEST_CASE("a decision is kept for its ttl and keyed by a hash of the credentials", "[access]") {
    proxy::access::Decisions decisions;
    const auto now = proxy::access::Decisions::Clock::now();
    const auto key = proxy::access::Decisions::key(0, "private/a", "Basic c2VjcmV0");
    CHECK(key.find("c2VjcmV0") == std::string::npos);
    CHECK(key != proxy::access::Decisions::key(0, "private/a", "Basic b3RoZXI="));
    CHECK(key != proxy::access::Decisions::key(1, "private/a", "Basic c2VjcmV0"));
    CHECK_FALSE(decisions.find(key, now));
    decisions.remember(key, {true, {}}, std::chrono::seconds(30), now);
    REQUIRE(decisions.find(key, now + std::chrono::seconds(29)));
    CHECK(decisions.find(key, now + std::chrono::seconds(29))->allowed);
    CHECK_FALSE(decisions.find(key, now + std::chrono::seconds(30)));
}

TEST_CASE("a digest belongs to a repository only through a manifest served under it", "[access]") {
    proxy::access::Membership members;
    const auto manifest = *store::Digest::parse("sha256:" + std::string(64, 'a'));
    const auto layer = *store::Digest::parse("sha256:" + std::string(64, 'b'));
    members.add(0, "private/a", manifest, {layer});
    CHECK(members.contains(0, "private/a", manifest));
    CHECK(members.contains(0, "private/a", layer));
    CHECK_FALSE(members.contains(0, "public/a", layer));
    CHECK_FALSE(members.contains(1, "private/a", layer));
}
