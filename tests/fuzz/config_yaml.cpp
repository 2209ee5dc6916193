// The config file, as YAML text.
#include <cstdint>

#include "config/load.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto loaded = config::load_from_string(fuzz::as_text(data, size), "envcache.yml");
    if (!loaded && loaded.error().message().empty()) __builtin_trap();
    return 0;
}
