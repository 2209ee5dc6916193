// One dependency of a conda file ("numpy>=1.26", "conda-forge::python=3.12").
#include "environment/conda_dependency.hpp"

#include <cstdint>

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::ignore = environment::parse_conda_dependency(fuzz::as_text(data, size));
    return 0;
}
