#pragma once
// The upstream client's log lines.

#include <string>
#include <string_view>

#include "proxy/log.hpp"

namespace proxy::upstream {

// Logs "upstream <message>". Messages name the upstream and never hold credentials, tokens or
// query strings (presigned URLs and token realms carry signatures there).
inline void warn(std::string_view message) {
    log_line("upstream " + std::string(message));
}

}  // namespace proxy::upstream
