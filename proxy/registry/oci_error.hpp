#pragma once
// OCI Distribution error bodies: {"errors":[{"code":"...","message":"...","detail":...}]}.

#include <string>
#include <string_view>

#include "proxy/server/api_error.hpp"

namespace proxy::registry {

using OciError = server::ApiError;
using server::error_body;

// Errors of the pull API, with the spec's status codes.
OciError name_invalid(std::string_view detail = {});
OciError name_unknown(std::string_view detail = {});
OciError tag_invalid(std::string_view detail = {});
OciError digest_invalid(std::string_view detail = {});
OciError manifest_unknown(std::string_view detail = {});
// A read of a tag outside the tag grammar: 404 MANIFEST_UNKNOWN (no manifest can have it, and
// the spec keeps TAG_INVALID for pushes), with the grammar in the message.
OciError tag_cannot_exist();
OciError blob_unknown(std::string_view detail = {});
OciError unsupported(std::string_view detail = {});
OciError not_found(std::string_view detail = {});
OciError bad_request(std::string_view detail = {});
// An upstream answer passed on: 401 UNAUTHORIZED, 403 DENIED, 429 TOOMANYREQUESTS; anything
// else becomes 502 UNAVAILABLE.
OciError from_upstream_status(unsigned status, std::string_view detail = {});
// The upstream could not be reached (and nothing was cached).
OciError upstream_unavailable(std::string_view detail = {});
// Upstream `name` (its configured name, never its URL) gave no answer: 502; or 503 while its
// circuit breaker is open and the request was not sent (clients then try their next host).
OciError upstream_unavailable_at(std::string_view name, bool circuit_open);
// envcache itself cannot take the request now (no spool for a download, shutting down): 503.
OciError mirror_unavailable(std::string_view detail = {});

}  // namespace proxy::registry
