#pragma once
// Where a request to an upstream goes: the origin (scheme, host, port) to connect to and the
// origin-form target to ask it for, from a URL or a redirect's Location. Pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>
#include <boost/url/url_view.hpp>

namespace proxy::upstream {

struct Origin {
    bool tls = false;
    std::string host;  // IPv6 literals without brackets
    std::uint16_t port = 0;

    bool operator==(const Origin&) const = default;

    std::uint16_t default_port() const { return tls ? 443 : 80; }

    // The Host header value, also used in log lines: "[::1]:5000", "registry.example" (the
    // port only when it is not the scheme's).
    std::string authority() const;

    // What connections to this origin are pooled by: "https://registry.example".
    std::string key() const;
};

struct Location {
    Origin origin;
    std::string target;  // origin-form: path and query, never empty

    // For log lines: scheme, host and path; never the query (presigned URLs carry signatures).
    std::string describe() const;
};

// The location of an absolute http or https URL. Error::bad_url for any other scheme, a URL
// without a host, or port 0. Userinfo and fragment are dropped; an empty path becomes "/".
boost::system::result<Location> to_location(boost::urls::url_view url);

// The location a redirect's Location value points to: an absolute URL, or a reference resolved
// against `from`, the location that answered (RFC 3986, section 5.2). Error::bad_url if the
// value is no URI reference or resolves to something to_location() refuses.
boost::system::result<Location> resolve_redirect(const Location& from, std::string_view reference);

}  // namespace proxy::upstream
