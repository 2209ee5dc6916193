#include "config/config.hpp"

#include "config/secret.hpp"

namespace config {

std::string UpstreamConfig::password() const {
    if (!password_env.empty()) return read_secret_env(password_env).value_or("");
    if (!password_file.empty()) return read_secret_file(password_file).value_or("");
    return {};
}

const UpstreamConfig* Config::default_upstream() const {
    for (const auto& u : upstreams)
        if (u.is_default) return &u;
    return nullptr;
}

}  // namespace config
