#pragma once
// What a blob response says before its body: the headers every blob answer carries, and the
// part of the blob a Range header asks for. One place for both, whether the bytes come from the
// store or from a download still running.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/status.hpp>

#include "store/digest.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;

// Content-Type (`media_type`, or application/octet-stream when empty), Docker-Content-Digest,
// ETag and Accept-Ranges.
http::fields blob_headers(const store::Digest& digest, std::string_view media_type);

// The part of a blob to send.
struct BlobSlice {
    http::status status = http::status::ok;  // ok, partial_content or range_not_satisfiable
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;  // std::nullopt: to the end of a blob of unknown size
};

// The slice `range` (the request's Range header, empty if none) asks of a blob of `size` bytes
// (std::nullopt while a download does not know it: then the whole blob). Sets Content-Range in
// `headers` for 206 and 416; for 416 also Content-Type, as the body is range_error_body().
BlobSlice slice_for(std::string_view range, std::optional<std::uint64_t> size,
                    http::fields& headers);

// The OCI error body of a 416 answer.
std::string range_error_body();

}  // namespace proxy::registry
