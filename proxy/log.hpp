#pragma once
// Lines to stderr, whole lines even when several threads log at once, in the order they were
// logged. log_line writes at once; log_access (one line per request) is batched: written
// within k_access_flush of being logged, or sooner when the batch fills, so that a busy server
// does not pay a write and a flush per request.

#include <chrono>
#include <string_view>

namespace proxy {

inline constexpr std::chrono::milliseconds k_access_flush{50};

void log_line(std::string_view line);
void log_access(std::string_view line);

}  // namespace proxy
