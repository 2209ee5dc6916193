#include <cstdlib>
#include <string>

#include <boost/beast/http/field.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/authenticator.hpp"
#include "proxy/upstream/upstream_error.hpp"

using proxy::upstream::Authenticator;
using proxy::upstream::Error;
using proxy::upstream::Origin;
namespace http = boost::beast::http;

namespace {

constexpr const char* k_password_env = "ENVCACHE_TEST_AUTHENTICATOR_PW";

config::UpstreamConfig make_config(std::string username = {}) {
    config::UpstreamConfig config;
    config.name = "test";
    config.url = "https://registry.example";
    config.username = std::move(username);
    if (!config.username.empty()) {
        config.password_env = k_password_env;
    }
    return config;
}

// Sets the password variable for the life of the object.
class PasswordEnv {
  public:
    explicit PasswordEnv(const char* value) { ::setenv(k_password_env, value, 1); }
    ~PasswordEnv() { ::unsetenv(k_password_env); }
};

}  // namespace

TEST_CASE("nothing is sent before the upstream asks for credentials", "[upstream][auth]") {
    const PasswordEnv password("secret");
    Authenticator auth(make_config("dave"));
    CHECK_FALSE(auth.authorization("repository:a:pull"));
    CHECK_FALSE(auth.authorization(""));
}

TEST_CASE("a bearer challenge asks the realm for a token with service and the request's scope",
          "[upstream][auth]") {
    Authenticator auth(make_config());
    const auto step =
        auth.answer(R"(Bearer realm="https://auth.example/token?x=1",service="registry example",)"
                    R"(scope="repository:other:pull")",
                    "repository:a/b:pull");
    REQUIRE(step.has_value());
    REQUIRE(step->has_value());
    const auto& request = **step;
    CHECK(request.location.origin == Origin{true, "auth.example", 443});
    CHECK(request.location.target ==
          "/token?x=1&service=registry%20example&scope=repository:a/b:pull");
    CHECK(request.scope == "repository:a/b:pull");
    CHECK(request.headers[http::field::authorization].empty());
}

TEST_CASE("a request without a scope asks for the challenge's scope", "[upstream][auth]") {
    Authenticator auth(make_config());
    const auto step =
        auth.answer(R"(Bearer realm="http://auth.example/t",scope="repository:x:pull")", "");
    REQUIRE(step.has_value());
    REQUIRE(step->has_value());
    CHECK((*step)->scope == "repository:x:pull");
    CHECK((*step)->location.target == "/t?scope=repository:x:pull");
}

TEST_CASE("the token request carries the configured basic credentials", "[upstream][auth]") {
    const PasswordEnv password("pw");
    Authenticator auth(make_config("dave"));
    const auto step = auth.answer(R"(Bearer realm="https://auth.example/token")", "s");
    REQUIRE(step.has_value());
    REQUIRE(step->has_value());
    // base64("dave:pw")
    CHECK((*step)->headers[http::field::authorization] == "Basic ZGF2ZTpwdw==");
    CHECK(auth.basic_credentials() == "Basic ZGF2ZTpwdw==");
}

TEST_CASE("an accepted token is sent for its scope until the upstream refuses it",
          "[upstream][auth]") {
    Authenticator auth(make_config());
    REQUIRE(auth.accept_token("repository:a:pull", R"({"token":"tok","expires_in":300})"));
    CHECK(auth.authorization("repository:a:pull") == "Bearer tok");
    CHECK_FALSE(auth.authorization("repository:b:pull"));
    auth.refused("repository:a:pull");
    CHECK_FALSE(auth.authorization("repository:a:pull"));
}

TEST_CASE("a token answer without a token is not cached", "[upstream][auth]") {
    Authenticator auth(make_config());
    const auto accepted = auth.accept_token("s", R"({"nothing":1})");
    REQUIRE(accepted.has_error());
    CHECK(accepted.error() == Error::bad_token_response);
    CHECK_FALSE(auth.authorization("s"));
}

TEST_CASE("a basic challenge switches every scope to the configured credentials",
          "[upstream][auth]") {
    const PasswordEnv password("pw");
    Authenticator auth(make_config("dave"));
    const auto step = auth.answer(R"(Basic realm="registry")", "repository:a:pull");
    REQUIRE(step.has_value());
    CHECK_FALSE(step->has_value());
    CHECK(auth.authorization("repository:a:pull") == "Basic ZGF2ZTpwdw==");
    CHECK(auth.authorization("") == "Basic ZGF2ZTpwdw==");
    // A token, once there is one, is preferred for its scope.
    REQUIRE(auth.accept_token("repository:a:pull", R"({"token":"tok"})"));
    CHECK(auth.authorization("repository:a:pull") == "Bearer tok");
}

TEST_CASE("a challenge that cannot be answered is an error", "[upstream][auth]") {
    Authenticator anonymous(make_config());
    const auto basic = anonymous.answer(R"(Basic realm="registry")", "s");
    REQUIRE(basic.has_error());
    CHECK(basic.error() == Error::bad_challenge);
    CHECK_FALSE(anonymous.authorization("s"));

    const auto none = anonymous.answer("Negotiate abc", "s");
    REQUIRE(none.has_error());
    CHECK(none.error() == Error::bad_challenge);

    for (const char* value : {R"(Bearer realm="not a url")", R"(Bearer realm="ftp://a/t")",
                              R"(Bearer service="registry")"}) {
        INFO(value);
        const auto realm = anonymous.answer(value, "s");
        REQUIRE(realm.has_error());
        CHECK(realm.error() == Error::bad_url);
    }
}
