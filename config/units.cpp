#include "config/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace config {

namespace {

constexpr std::string_view k_size_units_hint = "use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB";
constexpr std::string_view k_host_port_hint =
    "expected host:port such as 127.0.0.1:5000, localhost:5000 or [::1]:5000";
constexpr std::string_view k_duration_hint =
    "use 0 or a whole number with s, m, h or d: 30s, 5m, 12h, 30d";

struct Unit {
    std::string_view name;
    std::uint64_t factor;
};

constexpr std::array<Unit, 9> k_size_units{{
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
    {"KB", 1000ull},
    {"MB", 1000ull * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
}};

constexpr std::array<Unit, 4> k_duration_units{{
    {"s", 1},
    {"m", 60},
    {"h", 60 * 60},
    {"d", 24 * 60 * 60},
}};

// More fractional digits than this are ignored: a millionth of a TB is a megabyte, and the
// digits kept times the largest factor still fit in 64 bits.
constexpr std::size_t k_max_fraction_digits = 6;

std::string in_quotes(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    out += text;
    out += '"';
    return out;
}

ParseError error(std::string_view text, std::string_view what) {
    return ParseError{in_quotes(text) + " " + std::string(what)};
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// Leading run of digits, removed from `s`.
std::string_view take_digits(std::string_view& s) {
    std::size_t n = 0;
    while (n < s.size() && is_digit(s[n]))
        ++n;
    const auto digits = s.substr(0, n);
    s.remove_prefix(n);
    return digits;
}

// Parses a non-empty run of digits; false if it does not fit.
bool to_u64(std::string_view digits, std::uint64_t& out) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc{} && end == digits.data() + digits.size();
}

}  // namespace

void throw_exception_from_error(const ParseError& e, const boost::source_location&) {
    throw std::invalid_argument(e.message);
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    const auto original = text;
    text = trim(text);
    if (text.empty()) return error(original, "is empty; expected a size such as 20GiB");
    if (text.front() == '-') return error(original, "is negative; a size must be at least 0");
    if (text.front() == '+') text.remove_prefix(1);

    const auto whole_digits = take_digits(text);
    std::string_view fraction_digits;
    bool has_point = false;
    if (!text.empty() && text.front() == '.') {
        has_point = true;
        text.remove_prefix(1);
        fraction_digits = take_digits(text);
    }
    if (whole_digits.empty() || (has_point && fraction_digits.empty()))
        return error(original, "is not a size (" + std::string(k_size_units_hint) + ")");

    const auto unit_name = trim(text);
    std::uint64_t factor = 1;
    if (!unit_name.empty()) {
        const Unit* unit = nullptr;
        for (const auto& u : k_size_units)
            if (u.name == unit_name) unit = &u;
        if (unit == nullptr)
            return error(original, "is not a size (" + std::string(k_size_units_hint) + ")");
        factor = unit->factor;
    }
    if (has_point && factor == 1) return error(original, "is not a whole number of bytes");

    std::uint64_t whole = 0;
    if (!to_u64(whole_digits, whole) || whole > std::numeric_limits<std::uint64_t>::max() / factor)
        return error(original, "is too large");
    std::uint64_t bytes = whole * factor;

    if (!fraction_digits.empty()) {
        fraction_digits = fraction_digits.substr(0, k_max_fraction_digits);
        std::uint64_t fraction = 0;
        to_u64(fraction_digits, fraction);
        std::uint64_t scale = 1;
        for (std::size_t i = 0; i < fraction_digits.size(); ++i)
            scale *= 10;
        // fraction < 10^6 and factor <= 10^12, so the product fits.
        const std::uint64_t extra = fraction * factor / scale;
        if (bytes > std::numeric_limits<std::uint64_t>::max() - extra)
            return error(original, "is too large");
        bytes += extra;
    }
    return bytes;
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<std::string_view, 5> names{"B", "KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";

    std::size_t i = 1;
    while (i + 1 < names.size() && bytes >= (1ull << (10 * (i + 1))))
        ++i;
    // Hundredths of the unit, rounded to nearest; rounding may carry into the next unit.
    auto hundredths = [&](std::size_t unit) {
        const long double value = static_cast<long double>(bytes) /
                                  static_cast<long double>(1ull << (10 * unit)) * 100.0L;
        return static_cast<std::uint64_t>(std::llroundl(value));
    };
    std::uint64_t h = hundredths(i);
    if (h >= 1024 * 100 && i + 1 < names.size()) h = hundredths(++i);

    std::string out = std::to_string(h / 100);
    const auto frac = h % 100;
    if (frac != 0) {
        out += '.';
        out += static_cast<char>('0' + frac / 10);
        if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
    }
    out += ' ';
    out += names[i];
    return out;
}

Parsed<std::chrono::seconds> parse_duration(std::string_view text) {
    const auto original = text;
    text = trim(text);
    if (text.empty()) return error(original, "is empty; expected a duration such as 5m");
    if (text.front() == '-') return error(original, "is negative; a duration must be at least 0");

    const auto digits = take_digits(text);
    if (digits.empty())
        return error(original, "is not a duration (" + std::string(k_duration_hint) + ")");
    std::uint64_t count = 0;
    if (!to_u64(digits, count)) return error(original, "is too long");

    const auto unit_name = trim(text);
    if (unit_name.empty()) {
        if (count == 0) return std::chrono::seconds{0};
        return error(original, "has no unit (" + std::string(k_duration_hint) + ")");
    }
    const Unit* unit = nullptr;
    for (const auto& u : k_duration_units)
        if (u.name == unit_name) unit = &u;
    if (unit == nullptr)
        return error(original, "is not a duration (" + std::string(k_duration_hint) + ")");

    constexpr auto max_seconds =
        static_cast<std::uint64_t>(std::numeric_limits<std::chrono::seconds::rep>::max());
    if (count > max_seconds / unit->factor) return error(original, "is too long");
    return std::chrono::seconds{static_cast<std::chrono::seconds::rep>(count * unit->factor)};
}

std::string format_duration(std::chrono::seconds d) {
    const auto s = d.count();
    if (s == 0) return "0";
    for (auto it = k_duration_units.rbegin(); it != k_duration_units.rend(); ++it) {
        const auto factor = static_cast<std::chrono::seconds::rep>(it->factor);
        if (s % factor == 0) return std::to_string(s / factor) + std::string(it->name);
    }
    return std::to_string(s) + "s";  // unreachable: every count is a multiple of 1s
}

Parsed<HostPort> parse_host_port(std::string_view text) {
    const auto original = text;
    const std::string hint = "is not host:port; " + std::string(k_host_port_hint);
    text = trim(text);
    if (text.empty()) return error(original, "is empty; " + std::string(k_host_port_hint));

    if (text.find('/') != std::string_view::npos) return error(original, hint);

    HostPort out;
    std::string_view port_text;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return error(original, hint);
        const auto host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (host.find(':') == std::string_view::npos || rest.empty() || rest.front() != ':')
            return error(original, hint);
        for (char c : host) {
            const bool ok = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                            c == ':' || c == '.';
            if (!ok) return error(original, "has an invalid IPv6 address");
        }
        out.host = std::string(host);
        port_text = rest.substr(1);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return error(original, "has no port; " + std::string(k_host_port_hint));
        const auto host = text.substr(0, colon);
        if (host.find(':') != std::string_view::npos)
            return error(original, "needs brackets around an IPv6 address, e.g. [::1]:5000");
        if (host.empty()) return error(original, "has no host; " + std::string(k_host_port_hint));
        for (char c : host) {
            const bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            c == '.' || c == '-' || c == '_';
            if (!ok) return error(original, "has an invalid host name");
        }
        out.host = std::string(host);
        port_text = text.substr(colon + 1);
    }

    std::uint64_t port = 0;
    const bool all_digits = !port_text.empty() && port_text.size() <= 5 &&
                            port_text.find_first_not_of("0123456789") == std::string_view::npos;
    if (!all_digits || !to_u64(port_text, port) || port > 65535)
        return error(original, "has an invalid port (0..65535)");
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

}  // namespace config
