#include "proxy/registry/referrers_index.hpp"

#include <boost/json.hpp>

#include "proxy/registry/media_types.hpp"
#include "store/digest.hpp"

namespace proxy::registry {

namespace json = boost::json;

namespace {

std::string index_of(json::array manifests) {
    const json::object index{{"schemaVersion", 2},
                             {"mediaType", std::string(k_oci_index)},
                             {"manifests", std::move(manifests)}};
    return json::serialize(index);
}

bool has_valid_digest(const json::value& descriptor) {
    if (!descriptor.is_object()) return false;
    const auto* digest = descriptor.as_object().if_contains("digest");
    return digest && digest->is_string() && store::Digest::parse(digest->as_string());
}

}  // namespace

std::optional<std::string> referrers_index(std::string_view body) {
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const auto* manifests = doc.as_object().if_contains("manifests");
    if (!manifests || !manifests->is_array()) return std::nullopt;
    json::array kept;
    for (const auto& descriptor : manifests->as_array())
        if (has_valid_digest(descriptor)) kept.push_back(descriptor);
    return index_of(std::move(kept));
}

std::string empty_referrers() {
    return index_of({});
}

std::string filter_referrers(std::string_view index, std::string_view artifact_type) {
    boost::system::error_code ec;
    const json::value doc = json::parse(index, ec);
    json::array kept;
    if (!ec && doc.is_object()) {
        if (const auto* manifests = doc.as_object().if_contains("manifests");
            manifests && manifests->is_array()) {
            for (const auto& descriptor : manifests->as_array()) {
                if (!descriptor.is_object()) continue;
                const auto* type = descriptor.as_object().if_contains("artifactType");
                if (type && type->is_string() && type->as_string() == artifact_type)
                    kept.push_back(descriptor);
            }
        }
    }
    return index_of(std::move(kept));
}

std::string referrers_tag(std::string_view digest) {
    std::string tag(digest);
    if (const auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
    return tag;
}

}  // namespace proxy::registry
