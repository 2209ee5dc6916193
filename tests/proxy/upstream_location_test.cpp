#include <boost/url/parse.hpp>
#include <catch2/catch.hpp>

#include "proxy/upstream/location.hpp"
#include "proxy/upstream/upstream_error.hpp"

using proxy::upstream::Error;
using proxy::upstream::Location;
using proxy::upstream::Origin;
using proxy::upstream::resolve_redirect;
using proxy::upstream::to_location;

namespace {

boost::system::result<Location> location_of(std::string_view text) {
    const auto url = boost::urls::parse_uri(text);
    REQUIRE(url);
    return to_location(*url);
}

}  // namespace

TEST_CASE("a URL's location has its origin, a default port, and path and query as the target",
          "[upstream][location]") {
    auto location = location_of("https://registry.example/v2/a/manifests/1?n=2#frag");
    REQUIRE(location.has_value());
    CHECK(location->origin == Origin{true, "registry.example", 443});
    CHECK(location->target == "/v2/a/manifests/1?n=2");

    location = location_of("http://u:p@127.0.0.1:5000");
    REQUIRE(location.has_value());
    CHECK(location->origin == Origin{false, "127.0.0.1", 5000});
    CHECK(location->target == "/");

    location = location_of("http://[::1]:8080/x%2Fy");
    REQUIRE(location.has_value());
    CHECK(location->origin.host == "::1");
    CHECK(location->target == "/x%2Fy");
}

TEST_CASE("only http and https URLs with a host and a nonzero port are locations",
          "[upstream][location]") {
    for (const char* text :
         {"ftp://host/x", "http:///x", "http://host:0/", "mailto:a@b", "http://host:8x/y"}) {
        INFO(text);
        const auto location = location_of(text);
        REQUIRE(location.has_error());
        CHECK(location.error() == Error::bad_url);
    }
}

TEST_CASE("an origin's authority brackets IPv6 and names only a port that is not the default",
          "[upstream][location]") {
    CHECK(Origin{true, "r.example", 443}.authority() == "r.example");
    CHECK(Origin{false, "r.example", 443}.authority() == "r.example:443");
    CHECK(Origin{false, "::1", 80}.authority() == "[::1]");
    CHECK(Origin{true, "::1", 5000}.authority() == "[::1]:5000");
    CHECK(Origin{true, "::1", 5000}.key() == "https://[::1]:5000");
    CHECK(Origin{false, "r.example", 80}.key() == "http://r.example");
}

TEST_CASE("a location described for a log line has no query", "[upstream][location]") {
    const Location location{{true, "bucket.example", 443}, "/blob?X-Amz-Signature=5ecret"};
    CHECK(location.describe() == "https://bucket.example/blob");
}

TEST_CASE("redirects resolve absolute, host-relative and path-relative references",
          "[upstream][location]") {
    const Location from{{true, "registry.example", 443}, "/v2/a/blobs/sha256:1?x=1"};

    auto next = resolve_redirect(from, "https://bucket.example:9000/b?sig=1");
    REQUIRE(next.has_value());
    CHECK(next->origin == Origin{true, "bucket.example", 9000});
    CHECK(next->target == "/b?sig=1");

    next = resolve_redirect(from, "/elsewhere/blob");
    REQUIRE(next.has_value());
    CHECK(next->origin == from.origin);
    CHECK(next->target == "/elsewhere/blob");

    next = resolve_redirect(from, "other");
    REQUIRE(next.has_value());
    CHECK(next->target == "/v2/a/blobs/other");

    next = resolve_redirect(from, "//cdn.example/c");
    REQUIRE(next.has_value());
    CHECK(next->origin == Origin{true, "cdn.example", 443});
    CHECK(next->target == "/c");
}

TEST_CASE("a redirect to something that is not an http URL is bad_url", "[upstream][location]") {
    const Location from{{false, "registry.example", 80}, "/v2/"};
    for (const char* target :
         {"ftp://files.example/x", "http://bad host/", "http://:80/", "http://b.example:90x/"}) {
        INFO(target);
        const auto next = resolve_redirect(from, target);
        REQUIRE(next.has_error());
        CHECK(next.error() == Error::bad_url);
    }
}
