#pragma once
// Pins: image references or environment hashes whose blobs eviction must keep.
//
//   docker.io/library/python:3.12      upstream/repo:tag (the tag's current manifest)
//   ghcr.io/org/app@sha256:<hex>       upstream/repo@digest
//   sha256:<hex>                       one manifest or blob by digest
//   <64 hex>                           an environment hash (its registered manifest digest)
//
// A pin protects the manifest it names and, through the store's refs, everything below it:
// config and layers, and for an index its child manifests and theirs. The stored referrers
// answers of each of those (referrer_records.hpp) are protected too, and so, through them, the
// referrers (signatures, SBOMs) and everything below them.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include "store/blob_store.hpp"

namespace cache {

using DigestSet = std::unordered_set<store::Digest, store::DigestHash>;

// Why `pin` is not a pin, or std::nullopt if it is one.
std::optional<std::string> validate_pin(std::string_view pin);

// The manifest digest a pin names right now; std::nullopt when it names nothing yet (an unknown
// tag, an environment hash not registered) or cannot be read.
std::optional<store::Digest> resolve_pin(store::BlobStore& store, std::string_view pin);

// Every digest the pins protect. A store error while following refs protects what was found so
// far; it is the caller's job to retry later.
DigestSet protected_digests(store::BlobStore& store, std::span<const std::string> pins);

}  // namespace cache
