#pragma once
// Which endpoint of the pull API a request names, and which upstream serves it. Pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "config/config.hpp"
#include "config/url.hpp"
#include "proxy/registry/oci_error.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

enum class Endpoint {
    base,       // /v2/
    manifest,   // /v2/<name>/manifests/<reference>
    blob,       // /v2/<name>/blobs/<digest>
    tags_list,  // /v2/<name>/tags/list
    referrers,  // /v2/<name>/referrers/<digest>
};

// A parsed and validated request of the pull API. `name` is the repository as the client named
// it (possibly with an upstream prefix); `reference` is a tag or digest, or empty.
struct Route {
    Endpoint endpoint = Endpoint::base;
    std::string name;
    std::string reference;
    bool reference_is_digest = false;
};

// Parses a decoded path (see decode_path) that starts with "/v2". Checks the method, the name,
// tag and digest grammars; any failure is the OCI error to answer, before anything else is done.
std::variant<Route, OciError> parse_route(boost::beast::http::verb method, std::string_view path);

// The upstream that serves a request and the repository to ask it for.
struct UpstreamTarget {
    std::size_t index = 0;  // into the upstreams list
    std::string repo;       // e.g. "library/alpine"
    // A passthrough upstream's requests carry the caller's Authorization value (empty: none);
    // nullopt: envcache's own credentials.
    std::optional<std::string> caller_authorization;
};

// Picks the upstream: `ns` (from ?ns=) matching an upstream's name or URL host; else a first
// name component equal to an upstream's name; else the default upstream (or the only one). A
// first component naming the chosen upstream is stripped either way. docker.io names of one
// component get "library/". An unmatched `ns`, or no upstream at all, is NAME_UNKNOWN.
std::variant<UpstreamTarget, OciError> select_upstream(
    const std::vector<config::UpstreamConfig>& upstreams, const std::optional<std::string>& ns,
    std::string_view name);

// The upstream request for `path_and_query` under the target's repository
// ("/v2/<repo>/<path_and_query>"), with the pull scope its token needs.
upstream::Request upstream_request(boost::beast::http::verb method, const UpstreamTarget& target,
                                   std::string_view path_and_query);

// "registry-1.docker.io" from "https://registry-1.docker.io:443/x"; with_port keeps ":443".
// Named here too because `?ns=` matching is the router's; the one definition is config's.
using config::url_host;

}  // namespace proxy::registry
