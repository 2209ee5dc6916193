#pragma once
// Pure checks of what a client sends: repository names, tags, digests, request targets, query
// parameters and Range headers. No I/O; every request is checked with these before anything else.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxy::registry {

inline constexpr std::size_t k_max_name_length = 255;

// Whether `name` matches the OCI repository name grammar
// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` and is at most
// 255 characters long.
bool is_valid_name(std::string_view name);

// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
bool is_valid_tag(std::string_view tag);

// Whether `text` is "sha256:" followed by 64 lowercase hex digits (the only algorithm stored).
bool is_valid_digest(std::string_view text);

// Decodes the path of a request target strictly. Returns std::nullopt for anything a client of
// the pull API never sends and an attacker might: percent-encoded '.', '/', '\\' or '%', bad
// escapes, control characters, backslashes, empty segments ("//"), "." or ".." segments.
std::optional<std::string> decode_path(std::string_view raw_path);

// The percent-decoded value of `key` in a query string ("a=1&ns=docker.io"); std::nullopt if
// the key is absent or its value is not validly encoded.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

// An inclusive byte range [first, last] of a blob.
struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t length() const { return last - first + 1; }
};

enum class RangeKind {
    none,           // no usable Range header: send the whole blob (200)
    satisfiable,    // send `range` (206)
    unsatisfiable,  // 416 with "Content-Range: bytes */size"
};

struct RangeRequest {
    RangeKind kind = RangeKind::none;
    ByteRange range;
};

// Interprets a Range header for a blob of `size` bytes. Only a single range of the "bytes" unit
// is honoured (`a-b`, `a-`, `-n`); malformed or multi-range headers are ignored (RFC 9110 lets a
// server answer those with the whole representation).
RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace proxy::registry
