#include "proxy/registry/media_types.hpp"

#include <boost/json.hpp>

namespace proxy::registry {

namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

void add_digest(const json::value* v, std::vector<store::Digest>& out) {
    if (!v || !v->is_object()) return;
    const auto* d = v->as_object().if_contains("digest");
    if (!d || !d->is_string()) return;
    if (auto parsed = store::Digest::parse(d->as_string())) out.push_back(*parsed);
}

}  // namespace

std::string all_manifest_types() {
    return std::string(k_oci_manifest) + ", " + std::string(k_oci_index) + ", " +
           std::string(k_docker_manifest) + ", " + std::string(k_docker_list);
}

bool accepts(std::string_view accept, std::string_view media_type) {
    if (trim(accept).empty()) return true;
    std::size_t start = 0;
    while (start <= accept.size()) {
        std::size_t comma = accept.find(',', start);
        if (comma == std::string_view::npos) comma = accept.size();
        std::string_view entry = accept.substr(start, comma - start);
        entry = trim(entry.substr(0, entry.find(';')));
        if (entry == media_type || entry == "*/*") return true;
        if (entry.ends_with("/*") && media_type.starts_with(entry.substr(0, entry.size() - 1)))
            return true;
        start = comma + 1;
    }
    return false;
}

std::optional<ManifestRefs> parse_manifest_refs(std::string_view body) {
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const auto& obj = doc.as_object();
    ManifestRefs refs;
    if (const auto* mt = obj.if_contains("mediaType"); mt && mt->is_string())
        refs.media_type = std::string(mt->as_string());
    add_digest(obj.if_contains("config"), refs.blobs);
    if (const auto* layers = obj.if_contains("layers"); layers && layers->is_array())
        for (const auto& layer : layers->as_array())
            add_digest(&layer, refs.blobs);
    refs.children = refs.blobs;
    if (const auto* ms = obj.if_contains("manifests"); ms && ms->is_array()) {
        refs.is_index = true;
        for (const auto& m : ms->as_array())
            add_digest(&m, refs.children);
    }
    return refs;
}

}  // namespace proxy::registry
