#include "proxy/registry/tags_page.hpp"

#include <algorithm>
#include <cstdlib>

#include <boost/json.hpp>

#include "config/url.hpp"

namespace proxy::registry {

std::vector<std::string> parse_upstream_tags(std::string_view body) {
    std::vector<std::string> tags;
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(body, ec);
    if (ec || !parsed.is_object()) return tags;
    if (const auto* list = parsed.as_object().if_contains("tags"); list && list->is_array()) {
        for (const auto& tag : list->as_array())
            if (tag.is_string()) tags.emplace_back(tag.as_string());
    }
    return tags;
}

// The OCI tag list body: tags sorted, those after `last` only, at most `n` of them.
std::string tags_page(const std::string& name, std::vector<std::string> tags,
                      const std::optional<std::string>& n, const std::optional<std::string>& last) {
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    const std::size_t limit =
        n ? static_cast<std::size_t>(std::strtoull(n->c_str(), nullptr, 10)) : tags.size();
    boost::json::array list;
    for (const auto& tag : tags) {
        if (last && !last->empty() && tag <= *last) continue;
        if (list.size() >= limit) break;
        list.emplace_back(tag);
    }
    boost::json::object body;
    body["name"] = name;
    body["tags"] = std::move(list);
    return boost::json::serialize(body);
}

// The Link header for the next page when a page was asked for and came back full; else "".
// It keeps the request's `ns`, so the next page comes from the same upstream.
std::string next_tags_link(const std::string& name, const std::string& page,
                           const std::optional<std::string>& n,
                           const std::optional<std::string>& ns) {
    if (!n) return {};
    const auto limit = std::strtoull(n->c_str(), nullptr, 10);
    const boost::json::value parsed = boost::json::parse(page);
    const auto& tags = parsed.as_object().at("tags").as_array();
    if (limit == 0 || tags.size() < limit) return {};
    std::string link = "</v2/" + name + "/tags/list?n=" + *n +
                       "&last=" + config::encode_query_value(tags.back().as_string());
    if (ns && !ns->empty()) link += "&ns=" + config::encode_query_value(*ns, ":[]");
    return link + ">; rel=\"next\"";
}

}  // namespace proxy::registry
