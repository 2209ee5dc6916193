// Which endpoint a request path names and which upstream serves it (the path first decoded as
// the server does).
#include "proxy/registry/route.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/registry/reference.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

std::vector<config::UpstreamConfig> upstreams() {
    std::vector<config::UpstreamConfig> list(2);
    list[0].name = "docker.io";
    list[0].url = "https://registry-1.docker.io";
    list[0].is_default = true;
    list[1].name = "ghcr.io";
    list[1].url = "https://ghcr.io:443";
    return list;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace http = boost::beast::http;
    using namespace proxy::registry;
    static const auto configured = upstreams();
    const std::string_view text = fuzz::as_text(data, size);
    const auto question = text.find('?');
    const auto path = decode_path(text.substr(0, question));
    if (!path) return 0;
    std::optional<std::string> ns;
    if (question != std::string_view::npos) ns = query_param(text.substr(question + 1), "ns");
    for (const auto method : {http::verb::get, http::verb::head, http::verb::put}) {
        const auto route = parse_route(method, *path);
        const auto* parsed = std::get_if<Route>(&route);
        if (!parsed) continue;
        if (!parsed->name.empty() && !is_valid_name(parsed->name)) __builtin_trap();
        const auto target = select_upstream(configured, ns, parsed->name);
        if (const auto* chosen = std::get_if<UpstreamTarget>(&target)) {
            if (chosen->index >= configured.size()) __builtin_trap();
            std::ignore = upstream_request(method, *chosen, "manifests/" + parsed->reference);
        }
    }
    return 0;
}
