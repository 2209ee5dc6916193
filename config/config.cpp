#include "config/config.hpp"

namespace config {

const UpstreamConfig* Config::default_upstream() const {
    for (const auto& u : upstreams)
        if (u.is_default) return &u;
    return nullptr;
}

}  // namespace config
