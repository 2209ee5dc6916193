// A manifest or index body from an upstream, read for the digests it refers to; the input's
// first part is also tried as an Accept header.
#include <cstdint>

#include "proxy/registry/media_types.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace proxy::registry;
    const auto parts = fuzz::split_parts(fuzz::as_text(data, size), 2);
    if (const auto refs = parse_manifest_refs(parts.back())) {
        if (refs->blobs.size() > refs->children.size()) __builtin_trap();
        std::ignore = accepts(parts.front(), refs->media_type);
    }
    std::ignore = accepts(parts.front(), k_oci_manifest);
    return 0;
}
