#pragma once
// The limits the evictor keeps the store within, as the config file and the admin API set them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "config/config.hpp"

namespace cache {

struct Limits {
    std::uint64_t max_size = 0;
    double high_watermark = 0.95;
    double low_watermark = 0.85;
    std::string policy = "s3fifo";
    std::chrono::seconds max_age{0};  // 0: no age limit

    std::uint64_t high_bytes() const;
    std::uint64_t low_bytes() const;

    friend bool operator==(const Limits&, const Limits&) = default;
};

// The limits of a loaded config file.
Limits limits_from_config(const config::StorageConfig& storage,
                          const config::EvictionConfig& eviction);

// Why the limits are unusable, or std::nullopt if they are fine. Same rules as the config file:
// max_size > 0, 0 < low_watermark < high_watermark <= 1, a known policy.
std::optional<std::string> validate(const Limits& limits);

// {"max_size": <bytes>, "max_size_text": "20 GiB", "high_watermark": 0.95, ...,
//  "max_age": <seconds>, "max_age_text": "30d"}
boost::json::object to_json(const Limits& limits);

// Applies the fields present in `patch` to `base`. Sizes may be numbers (bytes) or strings
// ("10GiB"); max_age a number (seconds) or a string ("30d"). Unknown fields and wrong types are
// errors (returned as a message); the result is not validated as a whole.
std::optional<std::string> apply_patch(Limits& base, const boost::json::object& patch);

}  // namespace cache
