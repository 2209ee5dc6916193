#include <catch2/catch.hpp>

#include "proxy/registry/blob_response.hpp"
#include "proxy/registry/tags_page.hpp"
#include "store/sha256.hpp"

using namespace proxy::registry;

TEST_CASE("a tags page is sorted, unique, after `last` and at most `n` long", "[proxy][tags]") {
    const std::vector<std::string> tags = {"b", "a", "c", "b", "d"};
    CHECK(tags_page("r", tags, std::nullopt, std::nullopt) ==
          R"({"name":"r","tags":["a","b","c","d"]})");
    CHECK(tags_page("r", tags, std::string("2"), std::nullopt) ==
          R"({"name":"r","tags":["a","b"]})");
    CHECK(tags_page("r", tags, std::string("2"), std::string("b")) ==
          R"({"name":"r","tags":["c","d"]})");
    CHECK(tags_page("r", tags, std::string("0"), std::nullopt) == R"({"name":"r","tags":[]})");
    CHECK(tags_page("r", {}, std::nullopt, std::nullopt) == R"({"name":"r","tags":[]})");
}

TEST_CASE("the next-page link is given for a full page only, and keeps ns", "[proxy][tags]") {
    const auto full = tags_page("lib/x", {"a", "b", "c"}, std::string("2"), std::nullopt);
    CHECK(next_tags_link("lib/x", full, std::string("2"), std::nullopt) ==
          R"(</v2/lib/x/tags/list?n=2&last=b>; rel="next")");
    CHECK(next_tags_link("lib/x", full, std::string("2"), std::string("docker.io")) ==
          R"(</v2/lib/x/tags/list?n=2&last=b&ns=docker.io>; rel="next")");
    const auto last = tags_page("lib/x", {"a", "b", "c"}, std::string("2"), std::string("b"));
    CHECK(next_tags_link("lib/x", last, std::string("2"), std::nullopt).empty());
    CHECK(next_tags_link("lib/x", full, std::nullopt, std::nullopt).empty());
    const auto spaced = tags_page("lib/x", {"a b", "c"}, std::string("1"), std::nullopt);
    CHECK(next_tags_link("lib/x", spaced, std::string("1"), std::string("[::1]:5000")) ==
          R"(</v2/lib/x/tags/list?n=1&last=a%20b&ns=[::1]:5000>; rel="next")");
}

TEST_CASE("blob headers and the slice a Range asks for", "[proxy][blob]") {
    const auto digest = store::Sha256::of(std::string_view("blob"));
    auto headers = blob_headers(digest, "");
    CHECK(headers[http::field::content_type] == "application/octet-stream");
    CHECK(headers["Docker-Content-Digest"] == digest.str());
    CHECK(headers[http::field::etag] == "\"" + digest.str() + "\"");
    CHECK(headers[http::field::accept_ranges] == "bytes");
    CHECK(blob_headers(digest, "application/x")[http::field::content_type] == "application/x");

    SECTION("no Range: the whole blob") {
        const auto slice = slice_for("", 100, headers);
        CHECK(slice.status == http::status::ok);
        CHECK(slice.offset == 0);
        CHECK(slice.length == 100u);
        CHECK(headers.find(http::field::content_range) == headers.end());
    }
    SECTION("a satisfiable range: 206 with Content-Range") {
        const auto slice = slice_for("bytes=10-19", 100, headers);
        CHECK(slice.status == http::status::partial_content);
        CHECK(slice.offset == 10);
        CHECK(slice.length == 10u);
        CHECK(headers[http::field::content_range] == "bytes 10-19/100");
        CHECK(slice_for("bytes=-5", 100, headers).offset == 95);
    }
    SECTION("an unsatisfiable range: 416 with the size") {
        const auto slice = slice_for("bytes=200-", 100, headers);
        CHECK(slice.status == http::status::range_not_satisfiable);
        CHECK(headers[http::field::content_range] == "bytes */100");
        CHECK(headers[http::field::content_type] == "application/json");
        CHECK(range_error_body().find("BLOB_UNKNOWN") != std::string::npos);
    }
    SECTION("size not known yet (a download without Content-Length): the whole blob") {
        const auto slice = slice_for("bytes=10-19", std::nullopt, headers);
        CHECK(slice.status == http::status::ok);
        CHECK_FALSE(slice.length.has_value());
    }
}
