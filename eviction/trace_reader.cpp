#include "eviction/trace_reader.hpp"

#include <charconv>

namespace eviction {

namespace {

bool is_unsigned_integer(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// A non-negative decimal number: digits, optionally followed by '.' and digits.
bool is_timestamp(std::string_view s) {
    std::size_t dot = s.find('.');
    if (dot == std::string_view::npos) return is_unsigned_integer(s);
    return is_unsigned_integer(s.substr(0, dot)) && is_unsigned_integer(s.substr(dot + 1));
}

bool has_space(std::string_view s) {
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '"') return true;
    }
    return false;
}

}  // namespace

std::optional<TraceError> TraceReader::add_line(std::string_view line) {
    ++m_line;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!m_header_seen) {
        if (line != "timestamp,key,size") {
            return fail("expected the header \"timestamp,key,size\", got \"" + std::string(line) +
                        "\"");
        }
        m_header_seen = true;
        return std::nullopt;
    }
    std::size_t first = line.find(',');
    std::size_t second = first == std::string_view::npos ? first : line.find(',', first + 1);
    if (second == std::string_view::npos || line.find(',', second + 1) != std::string_view::npos) {
        return fail("expected 3 comma-separated fields timestamp,key,size");
    }
    std::string_view timestamp = line.substr(0, first);
    std::string_view key = line.substr(first + 1, second - first - 1);
    std::string_view size = line.substr(second + 1);
    if (!is_timestamp(timestamp)) {
        return fail("timestamp \"" + std::string(timestamp) + "\" is not a non-negative number");
    }
    if (key.empty() || has_space(key)) {
        return fail("key \"" + std::string(key) + "\" is empty or contains spaces or quotes");
    }
    std::uint64_t bytes = 0;
    auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), bytes);
    if (!is_unsigned_integer(size) || ec != std::errc{} || end != size.data() + size.size()) {
        return fail("size \"" + std::string(size) + "\" is not an unsigned integer");
    }

    auto it = m_ids.find(key);
    if (it == m_ids.end()) {
        Key id = m_sizes.size();
        it = m_ids.emplace(std::string(key), id).first;
        m_sizes.push_back(bytes);
        m_first_line.push_back(m_line);
        m_unique_bytes += bytes;
    } else if (m_sizes[it->second] != bytes) {
        return fail("key \"" + std::string(key) + "\" has size " + std::to_string(bytes) +
                    " but had size " + std::to_string(m_sizes[it->second]) + " on line " +
                    std::to_string(m_first_line[it->second]));
    }
    m_requests.push_back(Request{it->second, bytes});
    return std::nullopt;
}

std::optional<TraceError> TraceReader::finish() const {
    if (!m_header_seen) return TraceError{m_line, "the trace has no header line"};
    return std::nullopt;
}

}  // namespace eviction
