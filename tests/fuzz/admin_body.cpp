// The bodies of the admin API: a pin, a limits patch, an eviction request.
#include <cstdint>
#include <string>

#include "cache/pins.hpp"
#include "proxy/admin/admin_requests.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace proxy;
    const std::string_view body = fuzz::as_text(data, size);
    auto pin = parse_pin_body(body);
    if (const auto* text = std::get_if<std::string>(&pin)) std::ignore = cache::validate_pin(*text);
    cache::Limits limits;
    limits.max_size = 100ull << 30;
    auto patched = parse_limits_body(body, limits);
    if (const auto* valid = std::get_if<cache::Limits>(&patched); valid && cache::validate(*valid))
        __builtin_trap();
    auto evict = parse_evict_body(body);
    if (const auto* request = std::get_if<EvictRequest>(&evict);
        request && request->target_size.has_value() == request->digest.has_value())
        __builtin_trap();
    return 0;
}
