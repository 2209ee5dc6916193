#pragma once
// An upstream answer read whole: for the small bodies (manifests, indexes, tag lists, referrers)
// that are parsed, hashed or passed on in one piece. Blobs are streamed, never read this way.

#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/system/result.hpp>

#include "proxy/upstream/upstream_client.hpp"

namespace proxy::upstream {

// The largest manifest, index or tag list envcache reads (the distribution spec's limit).
inline constexpr std::size_t k_max_manifest_bytes = 4 * 1024 * 1024;

struct SmallAnswer {
    unsigned status = 0;
    http::fields headers;
    std::string body;  // empty for a HEAD
};

// Sends `request` and reads its whole body, up to `cap` bytes. An error means no usable answer:
// the upstream is unreachable, the body broke off (`http::error::partial_message` and the like)
// or was larger than `cap` (`http::error::body_limit`).
net::awaitable<boost::system::result<SmallAnswer>> fetch_small(Client& client, Request request,
                                                               std::size_t cap);

}  // namespace proxy::upstream
