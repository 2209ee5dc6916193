#pragma once
// Pull by environment: `/v2/environments/<hash>/manifests/latest` (and the blobs under that
// name) are served from the image a builder registered for the hash.

#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "store/blob_store.hpp"

namespace proxy::environments {

// The repository name prefix under /v2/ that pulls by environment hash.
inline constexpr std::string_view k_pull_repository_prefix = "environments/";
// The only tag an environment repository has.
inline constexpr std::string_view k_pull_tag = "latest";

// Where the image of an environment lives.
struct EnvironmentImage {
    std::string upstream;    // envcache upstream name
    std::string repository;  // repository at that upstream
    std::string digest;      // manifest digest, "sha256:..."
    std::string reference;   // as registered, for logs and messages
    std::string media_type;  // manifest media type as seen when registered
};

// The image mapped to `hash`; std::nullopt when the hash is unknown or has no image yet (and
// for anything that is not 64 lowercase hex, so callers may pass untrusted text).
boost::system::result<std::optional<EnvironmentImage>> image_for_hash(store::BlobStore& store,
                                                                      std::string_view hash);

// The MANIFEST_UNKNOWN message for an environment without an image:
// "environment <hash> has not been built (no image registered for it)".
std::string environment_not_built_message(std::string_view hash);

// The hash in a /v2/ repository name "environments/<hash>", or std::nullopt if `repository`
// is not such a name (the hash is not validated here: image_for_hash does that).
std::optional<std::string_view> hash_of_pull_repository(std::string_view repository);

}  // namespace proxy::environments
