#include <catch2/catch.hpp>

#include "proxy/upstream/auth_challenge.hpp"

using proxy::upstream::AuthChallenge;
using proxy::upstream::parse_auth_challenge;

TEST_CASE("a bearer challenge yields its realm, service and scope", "[upstream]") {
    const auto challenge = parse_auth_challenge(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
        R"(scope="repository:library/alpine:pull")");
    REQUIRE(challenge);
    CHECK(challenge->scheme == AuthChallenge::Scheme::bearer);
    CHECK(challenge->realm == "https://auth.docker.io/token");
    CHECK(challenge->service == "registry.docker.io");
    CHECK(challenge->scope == "repository:library/alpine:pull");
}

TEST_CASE("challenge scheme and parameter names are case-insensitive, values may be bare",
          "[upstream]") {
    const auto challenge =
        parse_auth_challenge(R"(bearer  Realm=https://h/token , SERVICE = reg, error="x")");
    REQUIRE(challenge);
    CHECK(challenge->scheme == AuthChallenge::Scheme::bearer);
    CHECK(challenge->realm == "https://h/token");
    CHECK(challenge->service == "reg");
    CHECK(challenge->scope.empty());
}

TEST_CASE("quoted challenge values keep commas and unescape backslashes", "[upstream]") {
    const auto challenge = parse_auth_challenge(
        R"(Bearer realm="https://h/t",scope="repository:a:pull,push",service="s\"x")");
    REQUIRE(challenge);
    CHECK(challenge->scope == "repository:a:pull,push");
    CHECK(challenge->service == "s\"x");
}

TEST_CASE("a basic challenge is recognised after an unknown scheme", "[upstream]") {
    const auto challenge = parse_auth_challenge(R"(Negotiate abc, Basic realm="registry")");
    REQUIRE(challenge);
    CHECK(challenge->scheme == AuthChallenge::Scheme::basic);
    CHECK(challenge->realm == "registry");
}

TEST_CASE("a challenge without Basic or Bearer, or malformed, is not usable", "[upstream]") {
    CHECK_FALSE(parse_auth_challenge(""));
    CHECK_FALSE(parse_auth_challenge("Negotiate"));
    CHECK_FALSE(parse_auth_challenge(R"(Bearer realm="unterminated)"));
    CHECK_FALSE(parse_auth_challenge(";;;"));
}
