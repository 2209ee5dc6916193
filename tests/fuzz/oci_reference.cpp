// OCI names, tags and digests, request paths and query strings as a client sends them.
#include <cstdint>
#include <string>

#include "proxy/registry/reference.hpp"
#include "store/digest.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace proxy::registry;
    const std::string_view text = fuzz::as_text(data, size);
    if (is_valid_name(text) && text.size() > k_max_name_length) __builtin_trap();
    if (is_valid_tag(text) && (text.empty() || text.size() > 128)) __builtin_trap();
    const bool digest_ok = is_valid_digest(text);
    const auto digest = store::Digest::parse(text);
    if (digest_ok && (!digest || digest->str() != text)) __builtin_trap();
    if (const auto path = decode_path(text)) {
        // A decoded path never holds what decode_path promises to refuse.
        if (path->find("//") != std::string::npos || path->find('\\') != std::string::npos ||
            path->find("/../") != std::string::npos || path->find("/./") != std::string::npos)
            __builtin_trap();
        for (const char c : *path)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
    }
    const auto parts = fuzz::split_parts(text, 2);
    if (parts.size() == 2) std::ignore = query_param(parts[0], parts[1]);
    std::ignore = query_param(text, "ns");
    return 0;
}
