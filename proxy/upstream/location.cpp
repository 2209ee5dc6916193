#include "proxy/upstream/location.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "proxy/upstream/upstream_error.hpp"

namespace proxy::upstream {

std::string Origin::authority() const {
    std::string text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != default_port()) {
        text += ':';
        text += std::to_string(port);
    }
    return text;
}

std::string Origin::key() const {
    return (tls ? "https://" : "http://") + authority();
}

std::string Location::describe() const {
    return origin.key() + target.substr(0, target.find('?'));
}

boost::system::result<Location> to_location(boost::urls::url_view url) {
    Location location;
    if (url.scheme_id() == boost::urls::scheme::https) {
        location.origin.tls = true;
    } else if (url.scheme_id() != boost::urls::scheme::http) {
        return make_error_code(Error::bad_url);
    }
    location.origin.host = url.host_address();
    if (location.origin.host.empty()) {
        return make_error_code(Error::bad_url);
    }
    if (url.has_port()) {
        if (url.port_number() == 0) {
            return make_error_code(Error::bad_url);
        }
        location.origin.port = url.port_number();
    } else {
        location.origin.port = location.origin.default_port();
    }
    // Boost.URL 1.81 ends an authority at the first character it cannot hold and takes the rest
    // as the path ("http://host:8x" is port 8, path "x"); a real path here starts with '/'.
    if (!url.encoded_path().empty() && !url.encoded_path().starts_with('/')) {
        return make_error_code(Error::bad_url);
    }
    location.target = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
    if (url.has_query()) {
        location.target += '?';
        location.target += url.encoded_query();
    }
    return location;
}

boost::system::result<Location> resolve_redirect(const Location& from, std::string_view reference) {
    const auto parsed = boost::urls::parse_uri_reference(reference);
    const std::string from_text = from.origin.key() + from.target;
    const auto base = boost::urls::parse_uri(from_text);
    if (!parsed || !base) {
        return make_error_code(Error::bad_url);
    }
    boost::urls::url resolved;
    if (const auto done = boost::urls::resolve(*base, *parsed, resolved); !done) {
        return make_error_code(Error::bad_url);
    }
    return to_location(resolved);
}

}  // namespace proxy::upstream
