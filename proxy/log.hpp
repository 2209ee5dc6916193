#pragma once
// One line at a time to stderr, whole lines even when several threads log at once.

#include <string_view>

namespace proxy {

void log_line(std::string_view line);

}  // namespace proxy
