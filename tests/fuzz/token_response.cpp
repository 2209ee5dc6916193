// The JSON answer of an upstream's token endpoint.
#include <cstdint>

#include "proxy/upstream/token_cache.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using proxy::upstream::Token;
    const auto now = Token::Clock::now();
    const auto token = proxy::upstream::parse_token(fuzz::as_text(data, size), now);
    if (token && (token->value.empty() || token->renew_at <= now)) __builtin_trap();
    return 0;
}
