#include "proxy/registry/reference.hpp"

#include <algorithm>
#include <charconv>

namespace proxy::registry {

namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_hex_lower(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// One path component: alphanumeric runs joined by ".", "_", "__" or one or more "-".
bool is_valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    std::size_t i = 0;
    while (i < c.size()) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < c.size() && !is_lower_alnum(c[i]))
            ++i;
        const std::string_view sep = c.substr(start, i - start);
        if (sep == "." || sep == "_" || sep == "__") continue;
        if (sep.find_first_not_of('-') == std::string_view::npos) continue;
        return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `text`; std::nullopt on a broken escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
    return v;
}

}  // namespace

bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > k_max_name_length) return false;
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = name.find('/', start);
        const std::string_view comp = name.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (!is_valid_component(comp)) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

bool is_valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 128) return false;
    if (!(is_alnum(tag[0]) || tag[0] == '_')) return false;
    for (const char c : tag.substr(1))
        if (!(is_alnum(c) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

bool is_valid_digest(std::string_view text) {
    constexpr std::string_view prefix = "sha256:";
    if (text.size() != prefix.size() + 64 || !text.starts_with(prefix)) return false;
    for (const char c : text.substr(prefix.size()))
        if (!is_hex_lower(c)) return false;
    return true;
}

std::optional<std::string> decode_path(std::string_view raw_path) {
    if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
    const auto allowed = [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f && c != '\\';
    };
    std::string out;
    out.reserve(raw_path.size());
    std::size_t i = 0;
    while (i < raw_path.size()) {
        // The run up to the next escape goes in at once.
        const std::size_t escape = std::min(raw_path.find('%', i), raw_path.size());
        const std::string_view run = raw_path.substr(i, escape - i);
        if (!std::all_of(run.begin(), run.end(), allowed)) return std::nullopt;
        out += run;
        if (escape == raw_path.size()) break;
        if (escape + 2 >= raw_path.size()) return std::nullopt;
        const int hi = hex_value(raw_path[escape + 1]);
        const int lo = hex_value(raw_path[escape + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        const char c = static_cast<char>(hi * 16 + lo);
        // An encoded separator or dot only ever serves to smuggle a path past a check.
        if (c == '.' || c == '/' || c == '\\' || c == '%' || !allowed(c)) return std::nullopt;
        out.push_back(c);
        i = escape + 3;
    }
    // Segment checks on the decoded path: no "//", no "." or ".." segments.
    std::size_t start = 1;
    while (start <= out.size()) {
        std::size_t slash = out.find('/', start);
        if (slash == std::string::npos) slash = out.size();
        const std::string_view seg(out.data() + start, slash - start);
        if (seg == "." || seg == "..") return std::nullopt;
        if (seg.empty() && slash != out.size()) return std::nullopt;
        start = slash + 1;
    }
    return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view pair = query.substr(start, amp - start);
        const std::size_t eq = pair.find('=');
        const std::string_view k = pair.substr(0, eq);
        if (k == key) {
            if (eq == std::string_view::npos) return std::string{};
            return percent_decode(pair.substr(eq + 1), true);
        }
        start = amp + 1;
    }
    return std::nullopt;
}

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    constexpr std::string_view unit = "bytes=";
    RangeRequest none;
    if (!header.starts_with(unit)) return none;
    std::string_view spec = header.substr(unit.size());
    while (!spec.empty() && spec.front() == ' ')
        spec.remove_prefix(1);
    while (!spec.empty() && spec.back() == ' ')
        spec.remove_suffix(1);
    if (spec.find(',') != std::string_view::npos) return none;
    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return none;
    const std::string_view a = spec.substr(0, dash);
    const std::string_view b = spec.substr(dash + 1);
    RangeRequest unsatisfiable{RangeKind::unsatisfiable, {}};
    if (a.empty()) {  // suffix: the last n bytes
        const auto n = parse_u64(b);
        if (!n) return none;
        if (*n == 0 || size == 0) return unsatisfiable;
        const std::uint64_t len = *n < size ? *n : size;
        return {RangeKind::satisfiable, {size - len, size - 1}};
    }
    const auto first = parse_u64(a);
    if (!first) return none;
    std::uint64_t last = 0;
    if (b.empty()) {
        last = size == 0 ? 0 : size - 1;
    } else {
        const auto l = parse_u64(b);
        if (!l || *l < *first) return none;
        last = *l < size ? *l : (size == 0 ? 0 : size - 1);
    }
    if (*first >= size) return unsatisfiable;
    return {RangeKind::satisfiable, {*first, last}};
}

}  // namespace proxy::registry
