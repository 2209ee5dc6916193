#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eviction/belady.hpp"

namespace eviction {

// A rejected trace line: its 1-based number and why.
struct TraceError {
    std::size_t line = 0;
    std::string message;

    std::string to_string() const { return "line " + std::to_string(line) + ": " + message; }
};

// Parses a request trace in CSV with the header `timestamp,key,size`, fed one line at a time
// (the caller does the reading, so this stays free of I/O). Keys become dense ids 0, 1, 2...
// in order of first appearance. A key keeps one size: a row giving another size is an error,
// as is any malformed row (wrong field count, empty key, timestamp not a non-negative number,
// size not an unsigned integer) or a missing or wrong header.
class TraceReader {
  public:
    // Parses the next line (a trailing '\r' is ignored). Returns the error, if any; after an
    // error the reader should not be fed further.
    std::optional<TraceError> add_line(std::string_view line);

    // Reports an error if no header was read (an empty trace file).
    std::optional<TraceError> finish() const;

    const std::vector<Request>& requests() const { return m_requests; }
    std::size_t unique_keys() const { return m_sizes.size(); }
    std::uint64_t unique_bytes() const { return m_unique_bytes; }
    std::size_t lines() const { return m_line; }

  private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };

    std::optional<TraceError> fail(std::string message) const {
        return TraceError{m_line, std::move(message)};
    }

    std::size_t m_line = 0;
    bool m_header_seen = false;
    std::unordered_map<std::string, Key, StringHash, std::equal_to<>> m_ids;
    std::vector<std::uint64_t> m_sizes;     // by id
    std::vector<std::size_t> m_first_line;  // by id
    std::vector<Request> m_requests;
    std::uint64_t m_unique_bytes = 0;
};

}  // namespace eviction
