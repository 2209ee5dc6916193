// A requirements.txt: every line as a requirement, and the files its -r/-c lines name.
#include <cstdint>

#include "environment/pip_dependencies.hpp"
#include "environment/requirement.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace environment;
    const std::string_view text = fuzz::as_text(data, size);
    std::ignore = include_references(text);
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const auto line = text.substr(start, end - start);
        if (auto requirement = parse_requirement(line)) std::ignore = normalize_pip_name(line);
        start = end + 1;
    }
    return 0;
}
