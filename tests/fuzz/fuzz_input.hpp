#pragma once
// What every fuzz target does with libFuzzer's bytes: read them as text, and split that text
// into several inputs at lines "%%" for parsers that take more than one.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>  // std::ignore, which the targets use for results they do not check
#include <vector>

namespace fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// At most `max_parts` parts; the last one keeps any further separators.
inline std::vector<std::string_view> split_parts(std::string_view text, std::size_t max_parts) {
    constexpr std::string_view separator = "\n%%\n";
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        const auto at = text.find(separator);
        if (at == std::string_view::npos) break;
        parts.push_back(text.substr(0, at));
        text.remove_prefix(at + separator.size());
    }
    parts.push_back(text);
    return parts;
}

}  // namespace fuzz
