#pragma once
// The status line and header block of a response, written into one string: what Beast's
// serializer writes for the same message, without a message object, a field list copy or the
// serializer's state machine on every response. Caller fields come first, in their order;
// then Connection as `keep_alive` asks for (HTTP/1.1 says close, HTTP/1.0 keep-alive), then
// the framing: Content-Length, or Transfer-Encoding: chunked (HTTP/1.1).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>

namespace proxy::server {

// Appends the head to `out`. `length`: Content-Length; std::nullopt: chunked under HTTP/1.1,
// and no framing field under HTTP/1.0 (the body ends with the connection, so `keep_alive`
// should be false then; unlike Beast, which writes chunked for either version). The caller's
// Connection, Content-Length and Transfer-Encoding fields are dropped (the framing is this
// function's), and so is any field whose name or value holds CR or LF: a value that came
// from an upstream cannot split the response.
void append_response_head(std::string& out, boost::beast::http::status status, unsigned version,
                          const boost::beast::http::fields& headers,
                          std::optional<std::uint64_t> length, bool keep_alive);

// The same head with the caller's fields already rendered by append_fields: for a response
// sent many times with the same fields (a cached manifest's), rendered once.
void append_response_head(std::string& out, boost::beast::http::status status, unsigned version,
                          std::string_view rendered_fields, std::optional<std::uint64_t> length,
                          bool keep_alive);

// Appends `headers` as append_response_head writes them ("Name: value\r\n" each, framing
// fields and fields with CR or LF left out).
void append_fields(std::string& out, const boost::beast::http::fields& headers);

// The chunked framing of one non-empty body piece of `size` bytes: "<hex size>\r\n".
std::string chunk_prefix(std::size_t size);

}  // namespace proxy::server
