#pragma once
// The body of a referrers answer: an OCI image index whose `manifests` are the descriptors of
// the manifests that name a subject (signatures, SBOMs, attestations). Pure functions.

#include <optional>
#include <string>
#include <string_view>

namespace proxy::registry {

// The answer made of an index: the upstream's referrers answer, or the index the referrers tag
// schema keeps under `sha256-<hex>` (the descriptors are the same; the index's own fields are
// not part of the answer). Keeps each descriptor object with a valid digest, as it is.
// std::nullopt when `body` is not a JSON object with a `manifests` array.
std::optional<std::string> referrers_index(std::string_view body);

// An answer with no referrers.
std::string empty_referrers();

// Only the descriptors of `index` (a referrers_index result) whose artifactType is
// `artifact_type`.
std::string filter_referrers(std::string_view index, std::string_view artifact_type);

// "sha256-<hex>": the tag under which the referrers tag schema keeps the referrers of
// "sha256:<hex>".
std::string referrers_tag(std::string_view digest);

}  // namespace proxy::registry
