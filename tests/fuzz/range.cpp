// The Range header of a blob request, against a blob size taken from the input's first line.
#include <charconv>
#include <cstdint>

#include "proxy/registry/blob_response.hpp"
#include "proxy/registry/reference.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace proxy::registry;
    const auto parts = fuzz::split_parts(fuzz::as_text(data, size), 2);
    std::uint64_t blob_size = 1000;
    const std::string_view header = parts.back();
    if (parts.size() == 2)
        std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), blob_size);
    const auto request = parse_range(header, blob_size);
    if (request.kind == RangeKind::satisfiable &&
        (request.range.first > request.range.last || request.range.last >= blob_size))
        __builtin_trap();
    for (const std::optional<std::uint64_t> known :
         {std::optional(blob_size), std::optional<std::uint64_t>()}) {
        http::fields headers;
        const auto slice = slice_for(header, known, headers);
        if (known && slice.status == http::status::partial_content &&
            (!slice.length || slice.offset + *slice.length > *known))
            __builtin_trap();
    }
    return 0;
}
