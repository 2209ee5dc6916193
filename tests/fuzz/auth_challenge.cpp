// The WWW-Authenticate value of an upstream's 401.
#include "proxy/upstream/auth_challenge.hpp"

#include <cstdint>

#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto challenge = proxy::upstream::parse_auth_challenge(fuzz::as_text(data, size));
    if (challenge && challenge->realm.size() > size) __builtin_trap();
    return 0;
}
