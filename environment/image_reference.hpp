#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace environment {

// A container image reference, normalised the way docker does: `ubuntu` is
// `docker.io/library/ubuntu`, `index.docker.io` is `docker.io`.
struct ImageReference {
    ImageReference() = default;  // not an aggregate, so result<ImageReference, string> works

    std::string registry;    // "docker.io", "mcr.microsoft.com", "localhost:5000"
    std::string repository;  // "library/ubuntu"
    std::string tag;         // empty if none was written (docker then uses "latest")
    std::string digest;      // "sha256:<64 hex>", empty if none

    // "registry/repository[:tag][@digest]"; no tag and no digest gives ":latest".
    std::string str() const;
    // "registry/repository".
    std::string name() const;
};

// Parses "[registry/]repository[:tag][@sha256:hex]"; the error is a message without location.
boost::system::result<ImageReference, std::string> parse_image_reference(std::string_view text);

// Whether `text` is "sha256:" followed by 64 lowercase hex characters.
bool is_sha256_digest(std::string_view text);

}  // namespace environment
