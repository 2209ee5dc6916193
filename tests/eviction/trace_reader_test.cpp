#include "eviction/trace_reader.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace {

// Feeds the lines and returns the first error.
std::optional<eviction::TraceError> parse(eviction::TraceReader& reader,
                                          const std::vector<std::string_view>& lines) {
    for (auto line : lines) {
        if (auto error = reader.add_line(line)) return error;
    }
    return reader.finish();
}

}  // namespace

TEST_CASE("a trace maps keys to dense ids and sums unique bytes", "[eviction][trace]") {
    eviction::TraceReader reader;
    auto error = parse(reader, {"timestamp,key,size", "0,sha256:aa,100", "0.5,b,20\r",
                                "1.25,sha256:aa,100", "2,c,0"});
    REQUIRE_FALSE(error);
    REQUIRE(reader.requests().size() == 4);
    CHECK(reader.requests()[0].key == 0);
    CHECK(reader.requests()[1].key == 1);
    CHECK(reader.requests()[2].key == 0);
    CHECK(reader.requests()[3].key == 2);
    CHECK(reader.requests()[1].bytes == 20);
    CHECK(reader.unique_keys() == 3);
    CHECK(reader.unique_bytes() == 120);
}

TEST_CASE("trace errors name the offending line", "[eviction][trace]") {
    struct Case {
        std::vector<std::string_view> lines;
        std::size_t line;
        std::string_view words;
    };
    const Case cases[] = {
        {{"time,key,size", "0,a,1"}, 1, "header"},
        {{}, 0, "no header"},
        {{"timestamp,key,size", "0,a,1", "1,b"}, 3, "3 comma-separated"},
        {{"timestamp,key,size", "0,a,1", "1,b,2,3"}, 3, "3 comma-separated"},
        {{"timestamp,key,size", "0,a,1", "", "1,b,2"}, 3, "3 comma-separated"},
        {{"timestamp,key,size", "x,a,1"}, 2, "timestamp"},
        {{"timestamp,key,size", "-1,a,1"}, 2, "timestamp"},
        {{"timestamp,key,size", "0,,1"}, 2, "key"},
        {{"timestamp,key,size", "0,a,-5"}, 2, "size"},
        {{"timestamp,key,size", "0,a,12k"}, 2, "size"},
        {{"timestamp,key,size", "0,a,99999999999999999999999"}, 2, "size"},
        {{"timestamp,key,size", "0,a,10", "1,b,5", "2,a,11"}, 4, "on line 2"},
    };
    for (const auto& c : cases) {
        eviction::TraceReader reader;
        auto error = parse(reader, c.lines);
        REQUIRE(error);
        INFO(error->to_string());
        CHECK(error->line == c.line);
        CHECK(error->message.find(c.words) != std::string::npos);
        CHECK(error->to_string().starts_with("line " + std::to_string(c.line) + ": "));
    }
}
