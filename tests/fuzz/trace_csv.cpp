// A request trace for the hit-rate simulator (CSV timestamp,key,size), fed line by line.
#include <cstdint>

#include "eviction/trace_reader.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    eviction::TraceReader reader;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        if (reader.add_line(text.substr(start, end - start))) return 0;
        start = end + 1;
    }
    std::ignore = reader.finish();
    if (reader.unique_keys() > reader.requests().size()) __builtin_trap();
    return 0;
}
