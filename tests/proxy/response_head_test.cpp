// The response head envcache writes itself is what Beast's serializer writes for the same
// message, and a field that would split the response is dropped.

#include "proxy/server/response_head.hpp"

#include <optional>
#include <sstream>
#include <string>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <catch2/catch.hpp>

namespace http = boost::beast::http;
using proxy::server::append_response_head;

namespace {

// What Beast writes for the head of the same response.
std::string beast_head(http::status status, unsigned version, const http::fields& headers,
                       std::optional<std::uint64_t> length, bool keep_alive) {
    http::response<http::empty_body> response{status, version};
    for (const auto& field : headers)
        response.insert(field.name_string(), field.value());
    response.keep_alive(keep_alive);
    if (length)
        response.content_length(*length);
    else
        response.chunked(true);
    http::response_serializer<http::empty_body> serializer{response};
    serializer.split(true);
    std::string out;
    boost::system::error_code ec;
    while (!serializer.is_header_done()) {
        serializer.next(ec, [&](boost::system::error_code&, const auto& buffers) {
            out += boost::beast::buffers_to_string(buffers);
            serializer.consume(boost::beast::buffer_bytes(buffers));
        });
        REQUIRE_FALSE(ec);
    }
    return out;
}

std::string ours(http::status status, unsigned version, const http::fields& headers,
                 std::optional<std::uint64_t> length, bool keep_alive) {
    std::string out;
    append_response_head(out, status, version, headers, length, keep_alive);
    return out;
}

}  // namespace

TEST_CASE("response head: byte for byte what Beast writes", "[server]") {
    http::fields headers;
    headers.set(http::field::content_type, "application/vnd.oci.image.manifest.v1+json");
    headers.set("Docker-Content-Digest", "sha256:" + std::string(64, 'a'));
    headers.set(http::field::etag, "\"sha256:" + std::string(64, 'a') + "\"");
    headers.set("Docker-Distribution-API-Version", "registry/2.0");
    const http::fields none;
    for (const unsigned version : {10u, 11u}) {
        for (const bool keep_alive : {true, false}) {
            for (const auto status : {http::status::ok, http::status::partial_content,
                                      http::status::not_found, http::status::service_unavailable}) {
                for (const std::optional<std::uint64_t> length :
                     {std::optional<std::uint64_t>(0), std::optional<std::uint64_t>(1234567890123),
                      std::optional<std::uint64_t>()}) {
                    if (version == 10 && !length) continue;  // Beast writes chunked there
                    CAPTURE(version, keep_alive, static_cast<unsigned>(status), length.has_value());
                    CHECK(ours(status, version, headers, length, keep_alive) ==
                          beast_head(status, version, headers, length, keep_alive));
                    CHECK(ours(status, version, none, length, keep_alive) ==
                          beast_head(status, version, none, length, keep_alive));
                }
            }
        }
    }
}

TEST_CASE("response head: the framing is the writer's, not a caller field's", "[server]") {
    http::fields headers;
    headers.set(http::field::content_length, "999");
    headers.set(http::field::transfer_encoding, "chunked");
    headers.set(http::field::connection, "upgrade");
    headers.set(http::field::content_type, "text/plain");
    CHECK(ours(http::status::ok, 11, headers, 5, true) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
    CHECK(ours(http::status::ok, 11, headers, std::nullopt, false) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
          "Transfer-Encoding: chunked\r\n\r\n");
}

TEST_CASE("response head: a field holding CR or LF is dropped", "[server]") {
    http::fields headers;
    headers.insert("Content-Type", "text/plain\r\nSet-Cookie: stolen=1");
    headers.insert("X-Name\r\nInjected", "1");
    headers.insert("Docker-Content-Digest", "sha256:abc\n");
    headers.insert("ETag", "\"kept\"");
    CHECK(ours(http::status::ok, 11, headers, 0, true) ==
          "HTTP/1.1 200 OK\r\nETag: \"kept\"\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("response head: chunk prefixes are hex sizes", "[server]") {
    CHECK(proxy::server::chunk_prefix(1) == "1\r\n");
    CHECK(proxy::server::chunk_prefix(255) == "ff\r\n");
    CHECK(proxy::server::chunk_prefix(1 << 20) == "100000\r\n");
}

TEST_CASE("response head: HTTP/1.0 with no length gets no framing field and closes", "[server]") {
    const http::fields none;
    CHECK(ours(http::status::ok, 10, none, std::nullopt, false) == "HTTP/1.0 200 OK\r\n\r\n");
}
