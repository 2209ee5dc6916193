#pragma once
// The ImageResolver the server gives the environment API: looks an image reference up through
// envcache's upstreams with a manifest HEAD (a GET when the upstream sends no digest header).

#include <vector>

#include "config/config.hpp"
#include "proxy/environments/image_resolver.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::environments {

// The reference's registry picks the upstream (its name, or its URL host, as `?ns=` does for
// pulls); a docker.io reference with no upstream of that name goes to the default upstream.
// `clients[i]` talks to upstreams[i]; both must outlive the resolver.
ImageResolver make_upstream_resolver(const std::vector<config::UpstreamConfig>& upstreams,
                                     std::vector<upstream::Client*> clients);

}  // namespace proxy::environments
