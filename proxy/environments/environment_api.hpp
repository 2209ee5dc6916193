#pragma once
// The environment API (/api/v1/environments/... and /api/v1/admin/curated/...) as one
// coroutine from request to response, independent of the HTTP server. Bodies are JSON; errors
// are {"errors":[{"code","message","detail"?}]} with these codes:
//
//   400 BODY_INVALID     the body is not the JSON object the endpoint expects
//   400 SPEC_INVALID     a spec file is malformed; detail {"file","line","column"}
//   400 NAME_INVALID     a bad name, version or hash in the path
//   400 IMAGE_INVALID    a malformed image reference
//   400 IMAGE_UNKNOWN    the upstream says the image does not exist, or no upstream serves it
//   403 DENIED           a reserved (curated) name outside the admin path, or a non-admin
//                        caller on the admin path
//   404 NOT_FOUND        no such name, version or hash
//   405 UNSUPPORTED      method not allowed (Allow header set)
//   409 CONFLICT         another content under an existing version (versions are immutable)
//   500 STORE_ERROR      the store failed; 500 PIN_FAILED: registered but not pinned
//   502 UPSTREAM_UNREACHABLE  an image could not be looked up upstream (named in the message)

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "proxy/environments/image_resolver.hpp"
#include "proxy/server/api_error.hpp"
#include "store/blob_store.hpp"

namespace proxy::environments {

inline constexpr std::string_view k_environments_prefix = "/api/v1/environments";
inline constexpr std::string_view k_curated_prefix = "/api/v1/admin/curated";

struct EnvironmentRequest {
    std::string_view method;  // "GET", "PUT", "POST"
    std::string_view target;  // as received; the query is ignored
    std::string_view body;
    // The router authenticated the caller as an admin (the admin API's rules). Required for
    // /api/v1/admin/curated/...; ignored elsewhere.
    bool is_admin = false;
};

// Same shape as the admin API's responses, so the router sends both the same way.
using EnvironmentResponse = server::ApiResponse;

// What the handlers need from the server. Shared by all requests; thread-safe.
struct EnvironmentContext {
    explicit EnvironmentContext(store::BlobStore& store_, ImageResolver resolve_ = {},
                                std::function<bool(const std::string& hash)> pin_ = {},
                                std::function<std::int64_t()> now_ = {})
        : store(store_), resolve(std::move(resolve_)), pin(std::move(pin_)), now(std::move(now_)) {}

    store::BlobStore& store;
    // Looks base images and registered images up upstream. Empty: no lookups; specs are hashed
    // offline (over the reference as written, with a lint finding) and PUT by-hash fails 502.
    ImageResolver resolve;
    // Pins an environment hash against eviction (Evictor::add_pin); false if it could not.
    // Empty: "pin": true answers 500 PIN_FAILED.
    std::function<bool(const std::string& hash)> pin;
    // Unix seconds; empty: the system clock.
    std::function<std::int64_t()> now;
    // Serialises check-then-write of records (never held across a co_await).
    std::mutex write_mutex;
};

// Whether the path (query ignored) is /api/v1/environments[/...].
bool is_environment_path(std::string_view target);
// Whether the path (query ignored) is /api/v1/admin/curated[/...].
bool is_curated_path(std::string_view target);

// Answers one request to either prefix. Never throws on bad input.
boost::asio::awaitable<EnvironmentResponse> handle_environments(const EnvironmentRequest& request,
                                                                EnvironmentContext& context);

}  // namespace proxy::environments
