#include <chrono>

#include <catch2/catch.hpp>

#include "proxy/upstream/token_cache.hpp"
#include "proxy/upstream/upstream_error.hpp"

using proxy::upstream::Error;
using proxy::upstream::parse_token;
using proxy::upstream::Token;
using proxy::upstream::TokenCache;
using std::chrono::seconds;

namespace {

const Token::Clock::time_point k_now = Token::Clock::now();

}  // namespace

TEST_CASE("a token answer is renewed a quarter of its lifetime, at most 30 s, before expiry",
          "[upstream][token]") {
    auto token = parse_token(R"({"token":"abc","expires_in":300})", k_now);
    REQUIRE(token.has_value());
    CHECK(token->value == "abc");
    CHECK(token->renew_at == k_now + seconds(270));

    token = parse_token(R"({"token":"abc","expires_in":60})", k_now);
    REQUIRE(token.has_value());
    CHECK(token->renew_at == k_now + seconds(45));
}

TEST_CASE("a token answer without a usable expires_in lives 60 s", "[upstream][token]") {
    for (const char* body :
         {R"({"token":"t"})", R"({"token":"t","expires_in":0})", R"({"token":"t","expires_in":-5})",
          R"({"token":"t","expires_in":"3600"})"}) {
        INFO(body);
        const auto token = parse_token(body, k_now);
        REQUIRE(token.has_value());
        CHECK(token->renew_at == k_now + seconds(45));
    }
}

TEST_CASE("a token's lifetime is capped at a year", "[upstream][token]") {
    const auto year = seconds(365ll * 24 * 3600);
    for (const char* body : {R"({"token":"t","expires_in":9000000000000000000})",
                             R"({"token":"t","expires_in":18000000000000000000})"}) {
        INFO(body);
        const auto token = parse_token(body, k_now);
        REQUIRE(token.has_value());
        CHECK(token->renew_at == k_now + year - seconds(30));
    }
}

TEST_CASE("access_token stands in for token, which wins when both are present",
          "[upstream][token]") {
    auto token = parse_token(R"({"access_token":"oauth"})", k_now);
    REQUIRE(token.has_value());
    CHECK(token->value == "oauth");
    token = parse_token(R"({"access_token":"oauth","token":"registry"})", k_now);
    REQUIRE(token.has_value());
    CHECK(token->value == "registry");
}

TEST_CASE("an answer without a token is bad_token_response", "[upstream][token]") {
    for (const char* body :
         {"", "not json", "[]", R"({"token":""})", R"({"token":42})", R"({"expires_in":60})"}) {
        INFO(body);
        const auto token = parse_token(body, k_now);
        REQUIRE(token.has_error());
        CHECK(token.error() == Error::bad_token_response);
    }
}

TEST_CASE("a cached token is found for its scope until it is due for renewal",
          "[upstream][token]") {
    TokenCache cache;
    cache.store("repository:a:pull", Token{"ta", k_now + seconds(100)}, k_now);
    CHECK(cache.find("repository:a:pull", k_now) == "ta");
    CHECK(cache.find("repository:a:pull", k_now + seconds(99)) == "ta");
    CHECK_FALSE(cache.find("repository:b:pull", k_now));
    CHECK_FALSE(cache.find("repository:a:pull", k_now + seconds(100)));
    // Due for renewal means gone, even for an earlier time.
    CHECK_FALSE(cache.find("repository:a:pull", k_now));
    CHECK(cache.size() == 0);
}

TEST_CASE("storing a token replaces its scope's and drops every token due for renewal",
          "[upstream][token]") {
    TokenCache cache;
    cache.store("a", Token{"old", k_now + seconds(10)}, k_now);
    cache.store("b", Token{"b", k_now + seconds(10)}, k_now);
    cache.store("a", Token{"new", k_now + seconds(100)}, k_now);
    CHECK(cache.size() == 2);
    CHECK(cache.find("a", k_now) == "new");

    cache.store("c", Token{"c", k_now + seconds(100)}, k_now + seconds(10));
    CHECK(cache.size() == 2);  // "b" expired
    CHECK(cache.find("a", k_now) == "new");
    CHECK(cache.find("c", k_now) == "c");
}

TEST_CASE("a forgotten token is not found again", "[upstream][token]") {
    TokenCache cache;
    cache.store("a", Token{"ta", k_now + seconds(100)}, k_now);
    cache.store("b", Token{"tb", k_now + seconds(100)}, k_now);
    cache.forget("a");
    CHECK_FALSE(cache.find("a", k_now));
    CHECK(cache.find("b", k_now) == "tb");
}
