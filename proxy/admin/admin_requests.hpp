#pragma once
// The request bodies of the admin API, read into values before anything is changed: pure
// functions of the bytes a caller sent (and of the current limits for a patch), so each can be
// checked on its own. A refusal is the 400 answer to send.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cache/limits.hpp"
#include "proxy/server/api_error.hpp"
#include "store/digest.hpp"

namespace proxy {

using AdminResponse = server::ApiResponse;

// The OCI-style error body: {"errors":[{"code":code,"message":message}]}.
AdminResponse admin_error(unsigned status, std::string_view code, std::string_view message);

// The pin of a {"pin": "..."} body (POST and DELETE /pins), not yet checked as a pin.
std::variant<std::string, AdminResponse> parse_pin_body(std::string_view body);

// The limits `current` becomes with the patch a PUT /limits body holds, validated.
std::variant<cache::Limits, AdminResponse> parse_limits_body(std::string_view body,
                                                             cache::Limits current);

// A POST /evict body: {"target_size": "5GiB" | bytes} or {"digest": "sha256:..."}, and an
// optional "dry_run". Exactly one of target_size and digest is set.
struct EvictRequest {
    bool dry_run = false;
    std::optional<std::uint64_t> target_size;
    std::optional<store::Digest> digest;
};
std::variant<EvictRequest, AdminResponse> parse_evict_body(std::string_view body);

}  // namespace proxy
