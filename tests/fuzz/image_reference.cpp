// An image reference as an environment names its base image ("python:3.12@sha256:...").
#include "environment/image_reference.hpp"

#include <cstdint>

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto reference = environment::parse_image_reference(fuzz::as_text(data, size));
    // The written form of a reference parses back to itself.
    if (reference) {
        const auto again = environment::parse_image_reference(reference->str());
        if (!again || again->str() != reference->str()) __builtin_trap();
    }
    return 0;
}
