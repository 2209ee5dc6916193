#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

// Parsing and formatting of the value kinds a config holds: sizes, durations, host:port.
// Shared by the config loader, the admin API and the CLI so all three accept the same text.
namespace config {

// Why a text was not accepted, phrased for the person who wrote it ("is not a size (use ...)").
// Never contains anything but the offending text itself.
struct ParseError {
    std::string message;
};

// Lets `result<T, ParseError>::value()` throw std::invalid_argument(message).
[[noreturn]] void throw_exception_from_error(const ParseError& e, const boost::source_location&);

template <class T>
using Parsed = boost::system::result<T, ParseError>;

// Bytes from "20GiB", "1.5 GiB", "500MB", "4096" (plain integers are bytes). Binary units
// B, KiB, MiB, GiB, TiB; decimal units KB, MB, GB, TB (powers of 1000). Units are case-sensitive.
// Fractions of a unit are rounded down to whole bytes. Rejects empty, negative, unknown units and
// anything that does not fit in 64 bits.
Parsed<std::uint64_t> parse_size(std::string_view text);

// "1.5 GiB", "20 GiB", "512 B": the largest binary unit that keeps the number >= 1, at most two
// decimals. parse_size() accepts the result.
std::string format_size(std::uint64_t bytes);

// Seconds from "0", "30s", "5m", "12h", "30d". A number other than 0 needs a unit.
Parsed<std::chrono::seconds> parse_duration(std::string_view text);

// "0", "45s", "5m", "12h", "30d", "90s": the largest unit that divides the value exactly.
std::string format_duration(std::chrono::seconds d);

struct HostPort {
    std::string host;  // name, IPv4 address, or IPv6 address without brackets
    std::uint16_t port = 0;
};

// "127.0.0.1:5000", "localhost:8080", "[::1]:5000", "0.0.0.0:0" (port 0: any free port).
Parsed<HostPort> parse_host_port(std::string_view text);

}  // namespace config
