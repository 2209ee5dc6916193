#include "config/url.hpp"

#include <charconv>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

namespace config {

namespace {

namespace urls = boost::urls;

constexpr std::string_view k_credentials =
    "must not contain credentials; use username with password_env or password_file";

// The URL in quotes, then what is wrong with it; without the URL if it holds an '@', which may
// be the end of credentials in a form no parser recognises as such ("robot:pw@r.example").
ParseError problem(std::string_view url, std::string_view what) {
    if (url.find('@') != std::string_view::npos) return ParseError{std::string(what)};
    return ParseError{"\"" + std::string(url) + "\" " + std::string(what)};
}

bool starts_with_http(std::string_view text) {
    const auto prefix_is = [text](std::string_view prefix) {
        return text.size() >= prefix.size() &&
               urls::grammar::ci_is_equal(text.substr(0, prefix.size()), prefix);
    };
    return prefix_is("http://") || prefix_is("https://");
}

// Host names as registries have them; Boost.URL's reg-name also admits sub-delims and
// percent-escapes, which no DNS name holds.
bool is_host_name(std::string_view host) {
    for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

// Why `text` is not a URI at all. Boost.URL only says that it is not, so this looks at the
// generic parts (RFC 3986: scheme "://" authority path ...) to name the one that is wrong.
// Credentials in the authority are named first, as what most needs saying.
ParseError diagnose(std::string_view text) {
    const auto start = text.find("://");
    const auto rest = start == std::string_view::npos ? text : text.substr(start + 3);
    const auto authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos)
        return ParseError{std::string(k_credentials)};
    if (!starts_with_http(text)) return problem(text, "must start with http:// or https://");
    if (rest.find_first_of("?#") != std::string_view::npos)
        return problem(text, "must not have a query or fragment");
    if (rest.find_first_of(" \t") != std::string_view::npos)
        return problem(text, "must not contain spaces");
    if (!urls::parse_authority(authority))
        return problem(
            text, authority.starts_with('[') ? "has an invalid IPv6 host" : "has an invalid host");
    return problem(text, "is not a valid URL");
}

}  // namespace

std::string UpstreamUrl::text() const {
    return std::string(scheme()) + "://" + authority + path;
}

Parsed<UpstreamUrl> parse_upstream_url(std::string_view text) {
    const auto parsed = urls::parse_uri(text);
    if (!parsed) return diagnose(text);
    const urls::url_view& url = *parsed;
    if (url.has_userinfo()) return ParseError{std::string(k_credentials)};

    UpstreamUrl out;
    out.tls = url.scheme_id() == urls::scheme::https;
    if ((!out.tls && url.scheme_id() != urls::scheme::http) || !url.has_authority())
        return problem(text, "must start with http:// or https://");
    if (url.has_query() || url.has_fragment())
        return problem(text, "must not have a query or fragment");

    switch (url.host_type()) {
        case urls::host_type::ipv4:
        case urls::host_type::ipv6:
            break;
        case urls::host_type::ipvfuture:
            return problem(text, "has an invalid IPv6 host");
        case urls::host_type::name:
        case urls::host_type::none:
            if (url.encoded_host().empty()) return problem(text, "has no host");
            if (!is_host_name(url.encoded_host())) return problem(text, "has an invalid host");
            break;
    }
    out.host = std::string(url.encoded_host_address());

    out.port = out.tls ? 443 : 80;
    if (url.has_port()) {
        const std::string_view port = url.port();
        if (port.empty()) return problem(text, "has an empty port");
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            return problem(text, "has an invalid port");
        out.port = static_cast<std::uint16_t>(value);
    }
    out.authority = std::string(url.encoded_host_and_port());

    // After an authority a path is empty or starts with '/' (RFC 3986, path-abempty), but
    // Boost.URL 1.81 ends the authority at the first character it cannot hold and takes the rest
    // as the path: "https://r.example:8x" is port 8 and path "x". That rest is the port's or the
    // host's.
    out.path = std::string(url.encoded_path());
    if (!out.path.empty() && out.path.front() != '/')
        return problem(text, url.has_port() ? "has an invalid port" : "has an invalid host");
    while (!out.path.empty() && out.path.back() == '/')
        out.path.pop_back();
    return out;
}

std::string url_host(std::string_view url, bool with_port) {
    const auto parsed = urls::parse_uri(url);
    if (!parsed || !parsed->has_authority()) return {};
    return std::string(with_port ? parsed->encoded_host_and_port()
                                 : parsed->encoded_host_address());
}

std::string encode_query_value(std::string_view value, std::string_view keep) {
    urls::grammar::lut_chars unencoded = urls::unreserved_chars;
    for (const char c : keep) {
        // Signed or not, bytes above 0x7e and below '!' fail this, as they should.
        const bool visible = c > ' ' && c < 0x7f;
        if (visible && c != '%' && c != '&' && c != '#')
            unencoded = unencoded + urls::grammar::lut_chars(c);
    }
    return urls::encode(value, unencoded);
}

}  // namespace config
