// An upstream's tag list body, paged as the client asks (n and last from the first part).
#include <cstdint>
#include <optional>
#include <string>

#include "proxy/registry/reference.hpp"
#include "proxy/registry/tags_page.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace proxy::registry;
    const auto parts = fuzz::split_parts(fuzz::as_text(data, size), 2);
    auto tags = parse_upstream_tags(parts.back());
    std::optional<std::string> n;
    std::optional<std::string> last;
    if (parts.size() == 2) {
        // As the handler checks them: n digits only, last a valid tag.
        n = query_param(parts[0], "n");
        if (n && (n->empty() || n->find_first_not_of("0123456789") != std::string::npos)) n.reset();
        last = query_param(parts[0], "last");
        if (last && !last->empty() && !is_valid_tag(*last)) last.reset();
    }
    const std::string page = tags_page("library/alpine", std::move(tags), n, last);
    std::ignore = next_tags_link("library/alpine", page, n, std::string("docker.io"));
    return 0;
}
