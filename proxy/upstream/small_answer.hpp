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

// Every value of header `name`, joined with ", " (the list form of RFC 9110).
std::string joined_header(const http::fields& fields, http::field name);

// An answer that says the upstream is failing (5xx) or shedding load (429), not that the
// content is missing or refused.
inline bool is_server_error(unsigned status) {
    return status >= 500 || status == 429;
}

// Sends `request` and reads its whole body, up to `cap` bytes. An error means no usable answer:
// the upstream is unreachable, the body broke off (`http::error::partial_message` and the like)
// or was larger than `cap` (`http::error::body_limit`).
net::awaitable<boost::system::result<SmallAnswer>> fetch_small(Client& client, Request request,
                                                               std::size_t cap);

}  // namespace proxy::upstream
