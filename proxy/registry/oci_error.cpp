#include "proxy/registry/oci_error.hpp"

namespace proxy::registry {

namespace {

OciError make(unsigned status, std::string_view code, std::string_view message,
              std::string_view detail) {
    return {status, std::string(code), std::string(message), std::string(detail)};
}

}  // namespace

OciError name_invalid(std::string_view d) {
    return make(400, "NAME_INVALID", "invalid repository name", d);
}
OciError name_unknown(std::string_view d) {
    return make(404, "NAME_UNKNOWN", "repository name not known to registry", d);
}
OciError tag_invalid(std::string_view d) {
    return make(400, "TAG_INVALID", "manifest tag did not match the tag grammar", d);
}
OciError digest_invalid(std::string_view d) {
    return make(400, "DIGEST_INVALID", "provided digest did not match uploaded content", d);
}
OciError manifest_unknown(std::string_view d) {
    return make(404, "MANIFEST_UNKNOWN", "manifest unknown", d);
}
OciError tag_cannot_exist() {
    return make(404, "MANIFEST_UNKNOWN",
                "manifest unknown: the reference is not a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})"
                " nor a digest",
                {});
}
OciError blob_unknown(std::string_view d) {
    return make(404, "BLOB_UNKNOWN", "blob unknown to registry", d);
}
OciError unsupported(std::string_view d) {
    return make(405, "UNSUPPORTED", "the operation is unsupported: this registry is a mirror", d);
}
OciError not_found(std::string_view d) {
    return make(404, "NOT_FOUND", "not found", d);
}
OciError bad_request(std::string_view d) {
    return make(400, "NAME_INVALID", "malformed request target", d);
}
OciError from_upstream_status(unsigned status, std::string_view d) {
    switch (status) {
        case 401:
            return make(401, "UNAUTHORIZED", "authentication required", d);
        case 403:
            return make(403, "DENIED", "requested access to the resource is denied", d);
        case 429:
            return make(429, "TOOMANYREQUESTS", "too many requests", d);
        default:
            return make(502, "UNAVAILABLE", "upstream registry answered with an error", d);
    }
}
OciError upstream_unavailable(std::string_view d) {
    return make(502, "UNAVAILABLE", "upstream registry unavailable", d);
}
OciError upstream_unavailable_at(std::string_view name, bool circuit_open) {
    const std::string message = "upstream registry " + std::string(name) + " unavailable";
    if (circuit_open) return make(503, "UNAVAILABLE", message + " (circuit breaker open)", "");
    return make(502, "UNAVAILABLE", message, "");
}
OciError mirror_unavailable(std::string_view d) {
    return make(503, "UNAVAILABLE", "the mirror cannot take this request now", d);
}

}  // namespace proxy::registry
