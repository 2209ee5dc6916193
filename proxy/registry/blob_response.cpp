#include "proxy/registry/blob_response.hpp"

#include "proxy/registry/oci_error.hpp"
#include "proxy/registry/reference.hpp"

namespace proxy::registry {

http::fields blob_headers(const store::Digest& digest, std::string_view media_type) {
    http::fields headers;
    headers.set(http::field::content_type,
                media_type.empty() ? std::string_view("application/octet-stream") : media_type);
    headers.set("Docker-Content-Digest", digest.str());
    headers.set(http::field::etag, "\"" + digest.str() + "\"");
    headers.set(http::field::accept_ranges, "bytes");
    return headers;
}

BlobSlice slice_for(std::string_view range, std::optional<std::uint64_t> size,
                    http::fields& headers) {
    BlobSlice slice;
    slice.length = size;
    if (!size || range.empty()) return slice;
    const RangeRequest asked = parse_range(range, *size);
    if (asked.kind == RangeKind::unsatisfiable) {
        headers.set(http::field::content_range, "bytes */" + std::to_string(*size));
        headers.set(http::field::content_type, "application/json");
        slice.status = http::status::range_not_satisfiable;
        slice.length = 0;
        return slice;
    }
    if (asked.kind == RangeKind::satisfiable) {
        slice.status = http::status::partial_content;
        slice.offset = asked.range.first;
        slice.length = asked.range.length();
        headers.set(http::field::content_range, "bytes " + std::to_string(asked.range.first) + "-" +
                                                    std::to_string(asked.range.last) + "/" +
                                                    std::to_string(*size));
    }
    return slice;
}

std::string range_error_body() {
    return error_body({416, "BLOB_UNKNOWN", "requested range not satisfiable", ""});
}

}  // namespace proxy::registry
