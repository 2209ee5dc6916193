// A Dockerfile's text.
#include "environment/dockerfile.hpp"

#include <cstdint>

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parsed = environment::parse_dockerfile("Dockerfile", fuzz::as_text(data, size));
    if (parsed)
        for (const auto& instruction : *parsed)
            if (instruction.line < 1) __builtin_trap();
    return 0;
}
