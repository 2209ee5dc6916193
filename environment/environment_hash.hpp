#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/bundle.hpp"
#include "environment/error.hpp"
#include "environment/finding.hpp"
#include "environment/spec.hpp"

namespace environment {

// Resolves a base image reference ("docker.io/library/ubuntu:22.04") to its manifest digest.
// Returns "repo@sha256:..." or "sha256:...". The proxy resolves through its upstreams.
using ResolveImage =
    std::function<boost::system::result<std::string>(std::string_view image_reference)>;

// A resolver that answers `digest` for any reference: for callers that resolved the base
// image themselves (asynchronously, through upstreams) before hashing.
ResolveImage resolved_to(std::string digest);

// The base image as hashed.
struct BaseImage {
    std::string reference;  // normalised reference as written: "docker.io/library/ubuntu:22.04"
    std::string name;       // "docker.io/library/ubuntu"
    std::string digest;     // "sha256:...", empty when it could not be resolved (offline)

    bool resolved() const { return !digest.empty(); }
    // "name@digest" when resolved, else the reference as written.
    std::string pinned() const { return resolved() ? name + "@" + digest : reference; }
};

struct HashedEnvironment {
    std::string hash;       // 64 lowercase hex: SHA-256 of `canonical`
    std::string canonical;  // the canonical text (format: envcache-env-v1)
    BaseImage base;
    bool offline = false;  // no resolver was given
    std::vector<Finding> findings;
};

inline constexpr std::string_view k_canonical_header = "envcache-env-v1";

// The canonical text of a spec over the given base image; see the README for the format.
std::string canonical_form(const Spec& spec, const BaseImage& base);

// 64 lowercase hex characters of SHA-256(data).
std::string sha256_hex(std::string_view data);

// Resolves the base image (unless it is written with a digest) and hashes the spec. An empty
// `resolve` is offline mode: the reference is hashed as written and lint says so.
boost::system::result<HashedEnvironment, Error> hash_environment(const Spec& spec,
                                                                 const ResolveImage& resolve);

// parse_spec + hash_environment.
boost::system::result<HashedEnvironment, Error> hash_bundle(const Bundle& bundle,
                                                            const ResolveImage& resolve);

// Drift lint of a spec whose base image is `base`.
std::vector<Finding> lint(const Spec& spec, const BaseImage& base, bool offline);

}  // namespace environment
