#pragma once
// Manifest media types, Accept matching, and the children a manifest refers to.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/digest.hpp"

namespace proxy::registry {

inline constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view k_docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view k_docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";

// Every manifest type we cache, as one Accept value.
std::string all_manifest_types();

// Whether an Accept header value (possibly several comma-separated entries, with parameters)
// admits `media_type`. An empty `accept` admits everything.
bool accepts(std::string_view accept, std::string_view media_type);

struct ManifestRefs {
    std::vector<store::Digest> children;  // config, layers, index children
    std::vector<store::Digest> blobs;     // config and layers only (what prefetch fetches)
    std::string media_type;               // the "mediaType" field, if any
    bool is_index = false;
};

// The digests a manifest body refers to; std::nullopt if it is not a JSON object.
std::optional<ManifestRefs> parse_manifest_refs(std::string_view body);

}  // namespace proxy::registry
