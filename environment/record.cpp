#include "environment/record.hpp"

#include <boost/json.hpp>

namespace environment {

namespace json = boost::json;

namespace {

using boost::system::result;

Error bad(std::string message) {
    return Error{"<json>", 0, 0, std::move(message)};
}

// The string at `key`: absent is std::nullopt, a non-string is an error.
result<std::optional<std::string>, Error> optional_string(const json::object& o,
                                                          std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return std::optional<std::string>{};
    if (!v->is_string()) return bad("'" + std::string(key) + "' must be a string");
    return std::optional<std::string>(std::string(v->get_string()));
}

result<std::string, Error> required_string(const json::object& o, std::string_view key) {
    auto s = optional_string(o, key);
    if (!s) return s.error();
    if (!*s) return bad("'" + std::string(key) + "' is missing");
    return std::move(**s);
}

json::value image_to_json(const ImageDigest& image) {
    return json::object{{"reference", image.reference}, {"digest", image.digest}};
}

result<ImageDigest, Error> image_from_json(const json::value& v, std::string_view what) {
    if (!v.is_object()) return bad("'" + std::string(what) + "' must be an object");
    ImageDigest image;
    auto ref = required_string(v.get_object(), "reference");
    if (!ref) return ref.error();
    auto digest = required_string(v.get_object(), "digest");
    if (!digest) return digest.error();
    image.reference = std::move(*ref);
    image.digest = std::move(*digest);
    return image;
}

}  // namespace

json::value bundle_to_json(const Bundle& bundle) {
    json::object o;
    json::object names;
    o["environment"] = bundle.environment.text;
    names["environment"] = bundle.environment.name;
    auto part = [&](const char* key, const std::optional<SourceText>& src) {
        if (!src) return;
        o[key] = src->text;
        names[key] = src->name;
    };
    part("conda_file", bundle.conda_file);
    part("requirements", bundle.requirements);
    part("dockerfile", bundle.dockerfile);
    if (!bundle.includes.empty()) {
        json::object inc;
        for (const auto& [k, v] : bundle.includes)
            inc[k] = v;
        o["includes"] = std::move(inc);
    }
    o["names"] = std::move(names);
    return o;
}

result<Bundle, Error> bundle_from_json(const json::value& v) {
    if (!v.is_object()) return bad("a bundle must be a JSON object");
    const auto& o = v.get_object();
    json::object names;
    if (const auto* n = o.if_contains("names")) {
        if (!n->is_object()) return bad("'names' must be an object");
        names = n->get_object();
    }
    auto name_of = [&](std::string_view key,
                       std::string_view fallback) -> result<std::string, Error> {
        auto s = optional_string(names, key);
        if (!s) return s.error();
        return *s ? std::move(**s) : std::string(fallback);
    };
    Bundle bundle;
    auto env = required_string(o, "environment");
    if (!env) return env.error();
    auto env_name = name_of("environment", k_default_environment_name);
    if (!env_name) return env_name.error();
    bundle.environment = {std::move(*env_name), std::move(*env)};
    auto part = [&](std::string_view key, std::string_view fallback,
                    std::optional<SourceText>& out) -> result<void, Error> {
        auto text = optional_string(o, key);
        if (!text) return text.error();
        if (!*text) return {};
        auto name = name_of(key, fallback);
        if (!name) return name.error();
        out = SourceText{std::move(*name), std::move(**text)};
        return {};
    };
    if (auto r = part("conda_file", k_default_conda_name, bundle.conda_file); !r) return r.error();
    if (auto r = part("requirements", k_default_requirements_name, bundle.requirements); !r)
        return r.error();
    if (auto r = part("dockerfile", k_default_dockerfile_name, bundle.dockerfile); !r)
        return r.error();
    if (const auto* inc = o.if_contains("includes")) {
        if (!inc->is_object()) return bad("'includes' must be an object of path: text");
        for (const auto& [k, text] : inc->get_object()) {
            if (!text.is_string()) return bad("'includes' values must be strings");
            bundle.includes.emplace(std::string(k), std::string(text.get_string()));
        }
    }
    return bundle;
}

json::value record_to_json(const EnvironmentRecord& record) {
    json::object o;
    o["name"] = record.name;
    o["version"] = record.version;
    o["hash"] = record.hash;
    o["canonical"] = record.canonical;
    o["bundle"] = bundle_to_json(record.bundle);
    o["base"] = image_to_json(record.base);
    o["image"] = record.image ? image_to_json(*record.image) : json::value(nullptr);
    o["created"] = record.created;
    return o;
}

result<EnvironmentRecord, Error> record_from_json(const json::value& v) {
    if (!v.is_object()) return bad("an environment record must be a JSON object");
    const auto& o = v.get_object();
    EnvironmentRecord r;
    for (auto [key, field] : {std::pair{"name", &r.name}, std::pair{"version", &r.version}}) {
        auto s = optional_string(o, key);
        if (!s) return s.error();
        if (*s) *field = std::move(**s);
    }
    for (auto [key, field] : {std::pair{"hash", &r.hash}, std::pair{"canonical", &r.canonical}}) {
        auto s = required_string(o, key);
        if (!s) return s.error();
        *field = std::move(*s);
    }
    const auto* bundle = o.if_contains("bundle");
    if (bundle == nullptr) return bad("'bundle' is missing");
    auto b = bundle_from_json(*bundle);
    if (!b) return b.error();
    r.bundle = std::move(*b);
    const auto* base = o.if_contains("base");
    if (base == nullptr) return bad("'base' is missing");
    auto base_image = image_from_json(*base, "base");
    if (!base_image) return base_image.error();
    r.base = std::move(*base_image);
    if (const auto* image = o.if_contains("image"); image != nullptr && !image->is_null()) {
        auto i = image_from_json(*image, "image");
        if (!i) return i.error();
        r.image = std::move(*i);
    }
    if (const auto* created = o.if_contains("created")) {
        if (!created->is_int64()) return bad("'created' must be an integer");
        r.created = created->get_int64();
    }
    return r;
}

json::value finding_to_json(const Finding& f) {
    return json::object{{"rule", f.rule},       {"severity", to_string(f.severity)},
                        {"file", f.file},       {"line", f.line},
                        {"subject", f.subject}, {"message", f.message}};
}

json::value hashed_to_json(const HashedEnvironment& h) {
    json::array lint;
    for (const auto& f : h.findings)
        lint.push_back(finding_to_json(f));
    json::object base{
        {"reference", h.base.reference},
        {"name", h.base.name},
        {"digest", h.base.resolved() ? json::value(h.base.digest) : json::value(nullptr)}};
    return json::object{{"hash", h.hash},
                        {"canonical", h.canonical},
                        {"offline", h.offline},
                        {"base", std::move(base)},
                        {"lint", std::move(lint)}};
}

}  // namespace environment
