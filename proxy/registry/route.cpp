#include "proxy/registry/route.hpp"

#include "proxy/registry/reference.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;

namespace {

bool is_read(http::verb method) {
    return method == http::verb::get || method == http::verb::head;
}

bool is_docker_hub(const config::UpstreamConfig& u) {
    return u.name == "docker.io" || url_host(u.url, false) == "registry-1.docker.io";
}

}  // namespace

std::variant<Route, OciError> parse_route(http::verb method, std::string_view path) {
    if (path == "/v2" || path == "/v2/") {
        if (!is_read(method)) return unsupported();
        return Route{};
    }
    if (!path.starts_with("/v2/")) return not_found();
    // Anything but a read under /v2/ is a push or delete: a mirror answers UNSUPPORTED.
    if (!is_read(method)) return unsupported();
    if (path.ends_with('/')) path.remove_suffix(1);
    // The segments that decide are the last two or three: <name>/<endpoint>/<reference>. Read
    // from the end, without splitting the whole path.
    const std::string_view rest = path.substr(4);
    const std::size_t last_slash = rest.rfind('/');
    if (last_slash == std::string_view::npos) return not_found();
    const std::string_view last = rest.substr(last_slash + 1);
    const std::string_view head = rest.substr(0, last_slash);
    const std::size_t name_end = head.rfind('/');
    const bool has_name = name_end != std::string_view::npos;
    const std::string_view second = has_name ? head.substr(name_end + 1) : head;
    const std::string_view name = has_name ? head.substr(0, name_end) : std::string_view();
    const std::string_view third = name.substr(name.rfind('/') + 1);  // npos + 1 is 0
    if (has_name && third == "blobs" && second == "uploads") return unsupported();
    if (second == "blobs" && last == "uploads") return unsupported();

    Route route;
    if (second == "tags" && last == "list") {
        route.endpoint = Endpoint::tags_list;
    } else if (second == "manifests") {
        route.endpoint = Endpoint::manifest;
    } else if (second == "blobs") {
        route.endpoint = Endpoint::blob;
    } else if (second == "referrers") {
        route.endpoint = Endpoint::referrers;
    } else {
        return not_found();
    }
    if (!has_name || !is_valid_name(name)) return name_invalid();
    route.name = std::string(name);
    if (route.endpoint == Endpoint::tags_list) return route;

    const std::string_view ref = last;
    if (route.endpoint == Endpoint::manifest && ref.find(':') == std::string_view::npos) {
        if (!is_valid_tag(ref)) return tag_cannot_exist();
    } else {
        if (!is_valid_digest(ref)) return digest_invalid();
        route.reference_is_digest = true;
    }
    route.reference = std::string(ref);
    return route;
}

std::variant<UpstreamTarget, OciError> select_upstream(
    const std::vector<config::UpstreamConfig>& upstreams, const std::optional<std::string>& ns,
    std::string_view name) {
    std::optional<std::size_t> chosen;
    if (ns && !ns->empty()) {
        for (std::size_t i = 0; i < upstreams.size() && !chosen; ++i)
            if (upstreams[i].name == *ns) chosen = i;
        for (std::size_t i = 0; i < upstreams.size() && !chosen; ++i) {
            const auto& url = upstreams[i].url;
            if (url_host(url, false) == *ns || url_host(url, true) == *ns) chosen = i;
        }
        if (!chosen) return name_unknown("no upstream for namespace");
    }
    std::string repo(name);
    const std::size_t slash = name.find('/');
    if (slash != std::string_view::npos) {
        // A path prefix naming an upstream selects it; with `ns` it must name the same one.
        const std::string_view first = name.substr(0, slash);
        for (std::size_t i = 0; i < upstreams.size(); ++i) {
            if (upstreams[i].name == first && (!chosen || *chosen == i)) {
                chosen = i;
                repo = std::string(name.substr(slash + 1));
                break;
            }
        }
    }
    if (!chosen) {
        for (std::size_t i = 0; i < upstreams.size() && !chosen; ++i)
            if (upstreams[i].is_default) chosen = i;
        if (!chosen && upstreams.size() == 1) chosen = 0;
    }
    if (!chosen) return name_unknown("no upstream for repository");
    if (repo.find('/') == std::string::npos && is_docker_hub(upstreams[*chosen]))
        repo = "library/" + repo;
    return UpstreamTarget{*chosen, std::move(repo), std::nullopt};
}

upstream::Request upstream_request(http::verb method, const UpstreamTarget& target,
                                   std::string_view path_and_query) {
    upstream::Request request;
    request.method = method;
    request.target = "/v2/" + target.repo + "/" + std::string(path_and_query);
    request.scope = "repository:" + target.repo + ":pull";
    request.caller_authorization = target.caller_authorization;
    return request;
}

}  // namespace proxy::registry
