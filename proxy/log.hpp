#pragma once
// Lines to stderr, whole lines even when several threads log at once, in the order they were
// logged. log_line writes at once; log_access (one line per request) is batched and written by
// a thread of its own within k_access_flush of being logged, or sooner when the batch fills, so
// that a busy server pays no write per request and no request waits for stderr to log its
// access line. Access lines that stderr does not take are held up to 8 MiB (beside the batch
// being written); past that they are dropped, and how many is logged with the next write.
// log_line (start-up, state changes, errors: rare) still writes on the caller's thread.

#include <chrono>
#include <string_view>

namespace proxy {

inline constexpr std::chrono::milliseconds k_access_flush{50};

void log_line(std::string_view line);
void log_access(std::string_view line);

}  // namespace proxy
