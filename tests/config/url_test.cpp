#include "config/url.hpp"

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using config::encode_query_value;
using config::parse_upstream_url;
using config::url_host;

namespace {

// The error text for a URL that must be refused.
std::string problem(std::string_view text) {
    const auto url = parse_upstream_url(text);
    REQUIRE(url.has_error());
    return url.error().message;
}

}  // namespace

TEST_CASE("an upstream url parses into scheme, host, port, authority and path", "[config][url]") {
    auto url = parse_upstream_url("https://registry-1.docker.io");
    REQUIRE(url.has_value());
    CHECK(url->tls);
    CHECK(url->scheme() == "https");
    CHECK(url->host == "registry-1.docker.io");
    CHECK(url->port == 443);
    CHECK(url->authority == "registry-1.docker.io");
    CHECK(url->path.empty());
    CHECK(url->text() == "https://registry-1.docker.io");

    url = parse_upstream_url("http://127.0.0.1:5001/mirror/v2/");
    REQUIRE(url.has_value());
    CHECK_FALSE(url->tls);
    CHECK(url->host == "127.0.0.1");
    CHECK(url->port == 5001);
    CHECK(url->authority == "127.0.0.1:5001");
    CHECK(url->path == "/mirror/v2");

    url = parse_upstream_url("http://r.example");
    REQUIRE(url.has_value());
    CHECK(url->port == 80);
}

TEST_CASE("an IPv6 upstream host is kept without brackets, its authority with them",
          "[config][url]") {
    const auto url = parse_upstream_url("http://[::1]:5001/");
    REQUIRE(url.has_value());
    CHECK(url->host == "::1");
    CHECK(url->port == 5001);
    CHECK(url->authority == "[::1]:5001");
    CHECK(url->text() == "http://[::1]:5001");
}

TEST_CASE("an upstream url's text has a lower-case scheme and no trailing slash", "[config][url]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"HTTPS://R.example", "https://R.example"},
        {"Http://r.example:8080//", "http://r.example:8080"},
        {"https://r.example/a%2Fb/", "https://r.example/a%2Fb"},
        {"https://r.example:443", "https://r.example:443"},
    };
    for (const auto& [text, canonical] : cases) {
        INFO(text);
        const auto url = parse_upstream_url(text);
        REQUIRE(url.has_value());
        CHECK(url->text() == canonical);
        // The canonical text parses to itself.
        const auto again = parse_upstream_url(url->text());
        REQUIRE(again.has_value());
        CHECK(again->text() == canonical);
    }
}

TEST_CASE("a url that is no upstream url says what is wrong with it", "[config][url]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"ftp://r.example", "\"ftp://r.example\" must start with http:// or https://"},
        {"r.example", "\"r.example\" must start with http:// or https://"},
        {"https:r.example", "\"https:r.example\" must start with http:// or https://"},
        {"", "\"\" must start with http:// or https://"},
        {"https://", "\"https://\" has no host"},
        {"https:///v2", "\"https:///v2\" has no host"},
        {"https://:5000", "\"https://:5000\" has no host"},
        {"https://r.example:99999", "\"https://r.example:99999\" has an invalid port"},
        {"https://r.example:0", "\"https://r.example:0\" has an invalid port"},
        {"https://r.example:", "\"https://r.example:\" has an empty port"},
        {"http://[::1]:", "\"http://[::1]:\" has an empty port"},
        {"https://r.example:8x", "\"https://r.example:8x\" has an invalid port"},
        {"https://r.example:8x/v2", "\"https://r.example:8x/v2\" has an invalid port"},
        {"https://r.example:80:90", "\"https://r.example:80:90\" has an invalid port"},
        {"https://r.example!x", "\"https://r.example!x\" has an invalid host"},
        {"https://r_e$x.com", "\"https://r_e$x.com\" has an invalid host"},
        {"https://r%41.example", "\"https://r%41.example\" has an invalid host"},
        {"https://[::1", "\"https://[::1\" has an invalid IPv6 host"},
        {"https://[]:5000", "\"https://[]:5000\" has an invalid IPv6 host"},
        {"https://[zz]/", "\"https://[zz]/\" has an invalid IPv6 host"},
        {"https://[v1.x]/", "\"https://[v1.x]/\" has an invalid IPv6 host"},
        {"https://r.example/v2?x=1",
         "\"https://r.example/v2?x=1\" must not have a query or fragment"},
        {"https://r.example/#top", "\"https://r.example/#top\" must not have a query or fragment"},
        {"https://r.example/a b", "\"https://r.example/a b\" must not contain spaces"},
        {"https://r.example/a{b}", "\"https://r.example/a{b}\" is not a valid URL"},
    };
    for (const auto& [text, reason] : cases) {
        INFO(text);
        CHECK(problem(text) == reason);
    }
}

TEST_CASE("a url with credentials is refused without echoing them", "[config][url]") {
    for (const char* text :
         {"https://robot:hunter2@r.example", "ftp://robot:hunter2@r.example",
          "https://robot:hunter2@r.example/a b", "https://robot:hunter2@[zz]/"}) {
        INFO(text);
        CHECK(problem(text) ==
              "must not contain credentials; use username with password_env or password_file");
    }
    // Credentials where no parser takes them for userinfo are not echoed either.
    for (const char* text : {"robot:hunter2@r.example", "https:robot:hunter2@r.example",
                             "https://r.example/robot:hunter2@x?y"}) {
        INFO(text);
        const auto message = problem(text);
        CHECK(message.find("hunter2") == std::string::npos);
        CHECK_FALSE(message.empty());
    }
}

TEST_CASE("url_host gives the host, or host[:port] as written, of any absolute url",
          "[config][url]") {
    CHECK(url_host("https://registry-1.docker.io:443/x", false) == "registry-1.docker.io");
    CHECK(url_host("https://registry-1.docker.io:443/x", true) == "registry-1.docker.io:443");
    CHECK(url_host("https://registry-1.docker.io/v2", true) == "registry-1.docker.io");
    CHECK(url_host("http://[::1]:5000/x", false) == "::1");
    CHECK(url_host("http://[::1]:5000/x", true) == "[::1]:5000");
    CHECK(url_host("http://u:p@host:1?q#f", true) == "host:1");
    CHECK(url_host("registry-1.docker.io", false).empty());
    CHECK(url_host("not a url", true).empty());
}

TEST_CASE("a query value keeps unreserved characters and encodes the rest upper-case",
          "[config][url]") {
    CHECK(encode_query_value("AZaz09-._~") == "AZaz09-._~");
    CHECK(encode_query_value("a b&c=d#e%f+g/h") == "a%20b%26c%3Dd%23e%25f%2Bg%2Fh");
    CHECK(encode_query_value("[::1]:5000") == "%5B%3A%3A1%5D%3A5000");
    CHECK(encode_query_value(std::string("\0\n\x7f\xc3\xa9", 5)) == "%00%0A%7F%C3%A9");
    CHECK(encode_query_value("").empty());
}

TEST_CASE("a query value keeps the characters the caller lists", "[config][url]") {
    CHECK(encode_query_value("application/vnd.oci.image.manifest.v1+json", "/+") ==
          "application/vnd.oci.image.manifest.v1+json");
    CHECK(encode_query_value("[::1]:5000", ":[]") == "[::1]:5000");
    CHECK(encode_query_value("a/b:c", "/") == "a/b%3Ac");
}

TEST_CASE("a query value stays one value whatever the caller lists", "[config][url]") {
    CHECK(encode_query_value("a%b&c#d e", "%&# ") == "a%25b%26c%23d%20e");
    CHECK(encode_query_value(std::string("\xc3\xa9\n", 3), std::string("\xc3\xa9\n", 3)) ==
          "%C3%A9%0A");
}
