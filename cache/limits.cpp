#include "cache/limits.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "cache/victim_policy.hpp"
#include "config/units.hpp"

namespace cache {

namespace json = boost::json;

namespace {

std::uint64_t fraction_of(std::uint64_t bytes, double fraction) {
    return static_cast<std::uint64_t>(std::floor(static_cast<double>(bytes) * fraction));
}

std::optional<std::string> read_size(const json::value& v, std::uint64_t& out) {
    if (v.is_string()) {
        auto parsed = config::parse_size(std::string_view(v.get_string()));
        if (!parsed) return parsed.error().message;
        out = *parsed;
        return std::nullopt;
    }
    if (v.is_uint64()) {
        out = v.get_uint64();
        return std::nullopt;
    }
    if (v.is_int64() && v.get_int64() >= 0) {
        out = static_cast<std::uint64_t>(v.get_int64());
        return std::nullopt;
    }
    return std::string("must be a size such as \"10GiB\" or a number of bytes");
}

std::optional<std::string> read_duration(const json::value& v, std::chrono::seconds& out) {
    if (v.is_string()) {
        auto parsed = config::parse_duration(std::string_view(v.get_string()));
        if (!parsed) return parsed.error().message;
        out = *parsed;
        return std::nullopt;
    }
    if (v.is_int64() && v.get_int64() >= 0) {
        out = std::chrono::seconds(v.get_int64());
        return std::nullopt;
    }
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        out = std::chrono::seconds(static_cast<std::int64_t>(v.get_uint64()));
        return std::nullopt;
    }
    return std::string("must be a duration such as \"30d\" or a number of seconds");
}

std::optional<std::string> read_fraction(const json::value& v, double& out) {
    if (!v.is_number()) return std::string("must be a number between 0 and 1");
    out = v.to_number<double>();
    return std::nullopt;
}

}  // namespace

std::uint64_t Limits::high_bytes() const {
    return fraction_of(max_size, high_watermark);
}
std::uint64_t Limits::low_bytes() const {
    return fraction_of(max_size, low_watermark);
}

Limits limits_from_config(const config::StorageConfig& storage,
                          const config::EvictionConfig& eviction) {
    Limits l;
    l.max_size = storage.max_size;
    l.high_watermark = storage.high_watermark;
    l.low_watermark = storage.low_watermark;
    l.policy = eviction.policy;
    l.max_age = eviction.max_age;
    return l;
}

std::optional<std::string> validate(const Limits& l) {
    if (l.max_size == 0) return std::string("max_size must be greater than 0");
    if (!(l.high_watermark > 0.0 && l.high_watermark <= 1.0))
        return std::string("high_watermark must be in (0, 1]");
    if (!(l.low_watermark > 0.0 && l.low_watermark < l.high_watermark))
        return std::string("low_watermark must be greater than 0 and below high_watermark");
    if (l.max_age.count() < 0) return std::string("max_age must not be negative");
    if (!is_known_policy(l.policy)) {
        std::string message = "unknown policy \"" + l.policy + "\" (use";
        const char* sep = " ";
        for (auto name : known_policies()) {
            message += sep;
            message += name;
            sep = ", ";
        }
        return message + ")";
    }
    return std::nullopt;
}

json::object to_json(const Limits& l) {
    json::object o;
    o["max_size"] = l.max_size;
    o["max_size_text"] = config::format_size(l.max_size);
    o["high_watermark"] = l.high_watermark;
    o["low_watermark"] = l.low_watermark;
    o["policy"] = l.policy;
    o["max_age"] = static_cast<std::int64_t>(l.max_age.count());
    o["max_age_text"] = config::format_duration(l.max_age);
    return o;
}

std::optional<std::string> apply_patch(Limits& base, const json::object& patch) {
    for (const auto& [key, value] : patch) {
        std::optional<std::string> problem;
        if (key == "max_size") {
            problem = read_size(value, base.max_size);
        } else if (key == "high_watermark") {
            problem = read_fraction(value, base.high_watermark);
        } else if (key == "low_watermark") {
            problem = read_fraction(value, base.low_watermark);
        } else if (key == "policy") {
            if (!value.is_string()) {
                problem = "must be a string";
            } else {
                base.policy = std::string(value.get_string());
            }
        } else if (key == "max_age") {
            problem = read_duration(value, base.max_age);
        } else if (key == "max_size_text" || key == "max_age_text") {
            // Echoed back from a GET; the numeric field is authoritative.
        } else {
            return "unknown field \"" + std::string(key) + "\"";
        }
        if (problem) return std::string(key) + ": " + *problem;
    }
    return std::nullopt;
}

}  // namespace cache
