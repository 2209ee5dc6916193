#pragma once
// Bodies the upstream client reads itself: token answers, and the small bodies of answers it
// consumes (401, 3xx, retried 5xx) so their connection can be reused.

#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "proxy/upstream/upstream_client.hpp"

namespace proxy::upstream {

// Bodies up to this size are drained; larger ones close the connection instead.
constexpr std::size_t k_drain_limit = 64 * 1024;

// Reads and drops the body if it is at most k_drain_limit bytes, so the connection can be
// reused. A larger body (by Content-Length, or once more than the limit was read) is left
// unread: destroying the response then closes the connection. Errors end the draining quietly.
net::awaitable<void> discard_body(Response& response);

// The whole body, or the read error, or Error::body_too_large once it exceeds `limit` bytes.
net::awaitable<boost::system::result<std::string>> read_body(Response& response, std::size_t limit);

}  // namespace proxy::upstream
