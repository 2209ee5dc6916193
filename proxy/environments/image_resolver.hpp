#pragma once
// How the environment API looks an image reference up upstream: the server supplies a resolver
// that goes through envcache's upstreams (tag -> HEAD manifest -> digest); tests supply a fake.

#include <functional>
#include <string>
#include <system_error>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace proxy::environments {

// An image found upstream.
struct ResolvedImage {
    std::string upstream;    // the upstream's configured name: "docker.io", "local"
    std::string repository;  // "library/ubuntu"
    std::string tag;         // empty when the reference named a digest
    std::string digest;      // manifest digest, "sha256:<64 hex>"
    std::string media_type;  // the manifest's media type
};

// Looks `reference` ("registry/repo:tag" or "registry/repo@sha256:...") up upstream. Errors:
// resolve_errc::not_found when the upstream answers that the image does not exist,
// resolve_errc::no_upstream when no configured upstream serves the reference's registry; any
// other error is taken as "upstream unreachable" (502).
using ImageResolver =
    std::function<boost::asio::awaitable<boost::system::result<ResolvedImage>>(std::string)>;

enum class resolve_errc {
    not_found = 1,  // the upstream has no such repository, tag or digest
    no_upstream,    // no configured upstream serves that registry
};

const boost::system::error_category& resolve_category();
boost::system::error_code make_error_code(resolve_errc e);

}  // namespace proxy::environments

template <>
struct boost::system::is_error_code_enum<proxy::environments::resolve_errc> : std::true_type {};
