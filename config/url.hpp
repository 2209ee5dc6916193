#pragma once
// Upstream URLs and query values, parsed and encoded by Boost.URL. Shared by the config loader
// (which validates `upstreams[].url`), the router (which matches `?ns=` against URL hosts), the
// registry handler (which writes query values) and the upstream client (which connects to the
// URLs), so all of them read and write a URL the same way.

#include <cstdint>
#include <string>
#include <string_view>

#include "config/units.hpp"

namespace config {

// An upstream registry's URL: http or https, a host, an optional port and path; no userinfo,
// query or fragment.
struct UpstreamUrl {
    bool tls = false;        // https
    std::string host;        // name or IP address as written; an IPv6 address without brackets
    std::uint16_t port = 0;  // as written, else the scheme's (443 for https, 80 for http)
    std::string authority;   // host[:port] as written: "[::1]:5001", "registry-1.docker.io"
    std::string path;        // percent-encoded as written, without trailing '/'; "" for the root

    // "https" or "http".
    std::string_view scheme() const { return tls ? "https" : "http"; }
    // The URL in the form the config keeps: lower-case scheme, no trailing '/'
    // ("HTTPS://R.example/mirror/" -> "https://R.example/mirror").
    std::string text() const;
};

// Parses and checks an upstream URL. The error says what is wrong in words for the person who
// wrote it ("\"https://r.example:\" has an empty port"); it quotes the URL unless the URL holds
// an '@', since credentials are never echoed.
Parsed<UpstreamUrl> parse_upstream_url(std::string_view text);

// The host of an absolute URL ("::1" from "http://u:p@[::1]:5000/x"), or with_port its host[:port]
// as written ("[::1]:5000"): the forms a `?ns=` value names an upstream by. Userinfo, path and
// query are ignored; "" when `url` is not an absolute URL with a host.
std::string url_host(std::string_view url, bool with_port);

// Percent-encodes `value` to stand as one value in a URL query (`?key=<value>`). Unreserved
// characters (A-Z a-z 0-9 - . _ ~) and those listed in `keep` are copied; every other byte
// becomes %XX with upper-case hex digits (a space is %20, never '+'). `keep` lets a caller leave
// characters readable, e.g. ":[]" for a host[:port]; '%', '&', '#', and anything that is not
// visible ASCII are encoded even when listed, so the result is always one well-formed value.
// A kept '+' reads back as a space wherever the query is decoded form-style (Go's url.Query(),
// and the registry handler's own query parsing): keep it only for a receiver that takes it
// literally.
std::string encode_query_value(std::string_view value, std::string_view keep = {});

}  // namespace config
