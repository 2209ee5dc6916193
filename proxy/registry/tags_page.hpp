#pragma once
// The tag list of the pull API, paged here as the spec says a registry does (upstreams differ in
// whether they sort and page): pure functions of the tags and the query.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxy::registry {

// The tags of an upstream's tag list body ({"tags": [...]}, strings only); none when the body is
// not such an object.
std::vector<std::string> parse_upstream_tags(std::string_view body);

// The OCI tag list body {"name":..., "tags":[...]}: tags sorted and unique, those after `last`
// only, at most `n` of them (`n` is digits only; the caller checked).
std::string tags_page(const std::string& name, std::vector<std::string> tags,
                      const std::optional<std::string>& n, const std::optional<std::string>& last);

// The Link header for the next page when a page was asked for (`n`) and came back full; else
// "". It keeps the request's `ns`, so the next page comes from the same upstream.
std::string next_tags_link(const std::string& name, const std::string& page,
                           const std::optional<std::string>& n,
                           const std::optional<std::string>& ns);

}  // namespace proxy::registry
