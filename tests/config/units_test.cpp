#include "config/units.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using config::format_duration;
using config::format_size;
using config::parse_duration;
using config::parse_host_port;
using config::parse_size;
using std::chrono::seconds;

TEST_CASE("sizes in binary and decimal units parse to bytes", "[config][units]") {
    const std::vector<std::pair<std::string, std::uint64_t>> cases{
        {"0", 0},
        {"4096", 4096},
        {"1B", 1},
        {"1KiB", 1024},
        {"1MiB", 1ull << 20},
        {"20GiB", 20ull << 30},
        {"1TiB", 1ull << 40},
        {"1KB", 1000},
        {"500MB", 500'000'000},
        {"3GB", 3'000'000'000},
        {"2TB", 2'000'000'000'000},
        {"1.5GiB", 3ull << 29},
        {"1.5 GiB", 3ull << 29},
        {"  2 KiB ", 2048},
        {"0.5KiB", 512},
        {"1.1KiB", 1126},  // 1126.4 rounds down to whole bytes
        {"18446744073709551615", std::numeric_limits<std::uint64_t>::max()},
        {"16777215TiB", 16777215ull << 40},
    };
    for (const auto& [text, bytes] : cases) {
        INFO(text);
        const auto parsed = parse_size(text);
        REQUIRE(parsed.has_value());
        CHECK(*parsed == bytes);
    }
}

TEST_CASE("sizes with a bad unit, a sign or too many bytes are rejected with a reason",
          "[config][units]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", "\"\" is empty; expected a size such as 20GiB"},
        {"   ", "\"   \" is empty; expected a size such as 20GiB"},
        {"-1", "\"-1\" is negative; a size must be at least 0"},
        {"-1GiB", "\"-1GiB\" is negative; a size must be at least 0"},
        {"20Gib", "\"20Gib\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"20gb", "\"20gb\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"20G", "\"20G\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"1PiB", "\"1PiB\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"GiB", "\"GiB\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"1.GiB", "\"1.GiB\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {".5GiB", "\".5GiB\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"1..5GiB", "\"1..5GiB\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"1e9", "\"1e9\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"},
        {"1.5", "\"1.5\" is not a whole number of bytes"},
        {"1.5B", "\"1.5B\" is not a whole number of bytes"},
        {"18446744073709551616", "\"18446744073709551616\" is too large"},
        {"16777216TiB", "\"16777216TiB\" is too large"},
        {"17179869184GiB", "\"17179869184GiB\" is too large"},
        {"18446744073709551615.5KiB", "\"18446744073709551615.5KiB\" is too large"},
    };
    for (const auto& [text, reason] : cases) {
        INFO(text);
        const auto parsed = parse_size(text);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().message == reason);
    }
}

TEST_CASE("value() of a rejected size throws invalid_argument with the reason", "[config][units]") {
    CHECK_THROWS_WITH(parse_size("7 apples").value(),
                      "\"7 apples\" is not a size (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

TEST_CASE("sizes format in the largest binary unit with at most two decimals", "[config][units]") {
    const std::vector<std::pair<std::uint64_t, std::string>> cases{
        {0, "0 B"},
        {1, "1 B"},
        {1023, "1023 B"},
        {1024, "1 KiB"},
        {1536, "1.5 KiB"},
        {1100, "1.07 KiB"},
        {3ull << 29, "1.5 GiB"},
        {20ull << 30, "20 GiB"},
        {(1ull << 20) - 1, "1 MiB"},  // 1023.999 KiB rounds up into the next unit
        {5ull << 40, "5 TiB"},
        {2048ull << 40, "2048 TiB"},
    };
    for (const auto& [bytes, text] : cases) {
        INFO(bytes);
        CHECK(format_size(bytes) == text);
    }
}

TEST_CASE("a formatted size parses back to the same bytes when it is exact", "[config][units]") {
    const std::vector<std::uint64_t> exact{0,          512,         1536,
                                           3ull << 29, 20ull << 30, (5ull << 40) + (1ull << 39)};
    for (const auto bytes : exact) {
        INFO(bytes);
        const auto parsed = parse_size(format_size(bytes));
        REQUIRE(parsed.has_value());
        CHECK(*parsed == bytes);
    }
}

TEST_CASE("durations in s, m, h and d parse to seconds", "[config][units]") {
    const std::vector<std::pair<std::string, long>> cases{
        {"0", 0},         {"0s", 0},     {"30s", 30},   {"5m", 300}, {"12h", 43200},
        {"30d", 2592000}, {" 90s ", 90}, {"1 h", 3600}, {"0d", 0},   {"100000d", 8'640'000'000},
    };
    for (const auto& [text, secs] : cases) {
        INFO(text);
        const auto parsed = parse_duration(text);
        REQUIRE(parsed.has_value());
        CHECK(parsed->count() == secs);
    }
}

TEST_CASE("durations without a unit, with another unit or negative are rejected",
          "[config][units]") {
    const std::string hint = "(use 0 or a whole number with s, m, h or d: 30s, 5m, 12h, 30d)";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", "\"\" is empty; expected a duration such as 5m"},
        {"30", "\"30\" has no unit " + hint},
        {"-5s", "\"-5s\" is negative; a duration must be at least 0"},
        {"5ms", "\"5ms\" is not a duration " + hint},
        {"1.5h", "\"1.5h\" is not a duration " + hint},
        {"5 minutes", "\"5 minutes\" is not a duration " + hint},
        {"1h30m", "\"1h30m\" is not a duration " + hint},
        {"m", "\"m\" is not a duration " + hint},
        {"5M", "\"5M\" is not a duration " + hint},
        {"99999999999999999999s", "\"99999999999999999999s\" is too long"},
        {"999999999999999999d", "\"999999999999999999d\" is too long"},
    };
    for (const auto& [text, reason] : cases) {
        INFO(text);
        const auto parsed = parse_duration(text);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().message == reason);
    }
}

TEST_CASE("durations format in the largest unit that divides them", "[config][units]") {
    CHECK(format_duration(seconds{0}) == "0");
    CHECK(format_duration(seconds{45}) == "45s");
    CHECK(format_duration(seconds{90}) == "90s");
    CHECK(format_duration(seconds{300}) == "5m");
    CHECK(format_duration(seconds{43200}) == "12h");
    CHECK(format_duration(seconds{2592000}) == "30d");
    for (const long s : {0L, 1L, 59L, 60L, 3601L, 86400L, 90000L}) {
        INFO(s);
        CHECK(parse_duration(format_duration(seconds{s})).value() == seconds{s});
    }
}

TEST_CASE("listen addresses parse as host and port, IPv6 in brackets", "[config][units]") {
    struct Case {
        std::string text;
        std::string host;
        std::uint16_t port;
    };
    const std::vector<Case> cases{
        {"127.0.0.1:5000", "127.0.0.1", 5000},
        {"localhost:8080", "localhost", 8080},
        {"0.0.0.0:0", "0.0.0.0", 0},
        {"[::1]:5000", "::1", 5000},
        {"[::]:65535", "::", 65535},
        {"cache-1.example.org:443", "cache-1.example.org", 443},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const auto parsed = parse_host_port(c.text);
        REQUIRE(parsed.has_value());
        CHECK(parsed->host == c.host);
        CHECK(parsed->port == c.port);
    }
}

TEST_CASE("listen addresses without a port, with a bad port or bare IPv6 are rejected",
          "[config][units]") {
    const std::string hint =
        "expected host:port such as 127.0.0.1:5000, localhost:5000 or [::1]:5000";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", "\"\" is empty; " + hint},
        {"localhost", "\"localhost\" has no port; " + hint},
        {":5000", "\":5000\" has no host; " + hint},
        {"::1:5000", "\"::1:5000\" needs brackets around an IPv6 address, e.g. [::1]:5000"},
        {"[::1]", "\"[::1]\" is not host:port; " + hint},
        {"[::1:5000", "\"[::1:5000\" is not host:port; " + hint},
        {"[nothex]:5000", "\"[nothex]:5000\" is not host:port; " + hint},
        {"[fe80::zz]:5000", "\"[fe80::zz]:5000\" has an invalid IPv6 address"},
        {"localhost:70000", "\"localhost:70000\" has an invalid port (0..65535)"},
        {"localhost:", "\"localhost:\" has an invalid port (0..65535)"},
        {"localhost:http", "\"localhost:http\" has an invalid port (0..65535)"},
        {"localhost:-1", "\"localhost:-1\" has an invalid port (0..65535)"},
        {"local host:80", "\"local host:80\" has an invalid host name"},
        {"http://localhost:80", "\"http://localhost:80\" is not host:port; " + hint},
    };
    for (const auto& [text, reason] : cases) {
        INFO(text);
        const auto parsed = parse_host_port(text);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().message == reason);
    }
}
