#include "proxy/environments/environment_records.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace proxy::environments {

namespace json = boost::json;
using boost::system::result;

namespace {

boost::system::error_code bad_record() {
    return make_error_code(boost::system::errc::bad_message);
}

const json::string* string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::int64_t int_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    return 0;
}

json::value image_to_json(const MappedImage& image) {
    return json::object{{"reference", image.reference},   {"digest", image.digest},
                        {"upstream", image.upstream},     {"repository", image.repository},
                        {"media_type", image.media_type}, {"registered", image.registered}};
}

std::optional<MappedImage> image_from_json(const json::value& v) {
    if (!v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    MappedImage image;
    for (auto [key, field] :
         {std::pair{"reference", &image.reference}, std::pair{"digest", &image.digest},
          std::pair{"upstream", &image.upstream}, std::pair{"repository", &image.repository},
          std::pair{"media_type", &image.media_type}}) {
        const auto* s = string_at(o, key);
        if (s == nullptr) return std::nullopt;
        *field = std::string(*s);
    }
    image.registered = int_at(o, "registered");
    return image;
}

result<json::object> parse_object(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return bad_record();
    return std::move(v.get_object());
}

result<NamedEntry> named_from_text(std::string_view text) {
    auto o = parse_object(text);
    if (!o) return o.error();
    auto record = environment::record_from_json(*o);
    if (!record) return bad_record();
    NamedEntry entry;
    entry.record = std::move(*record);
    const auto sequence = int_at(*o, "sequence");
    entry.sequence = sequence > 0 ? static_cast<std::uint64_t>(sequence) : 0;
    return entry;
}

void sort_by_sequence(std::vector<NamedEntry>& entries) {
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        if (a.record.name != b.record.name) return a.record.name < b.record.name;
        if (a.sequence != b.sequence) return a.sequence < b.sequence;
        return a.record.created < b.record.created;
    });
}

}  // namespace

std::string named_key(std::string_view name, std::string_view version) {
    std::string key(name);
    key.push_back('\0');
    key.append(version);
    return key;
}

result<std::optional<HashEntry>> load_hash_entry(store::BlobStore& store, std::string_view hash) {
    auto text = store.get_record(k_envs_table, hash);
    if (!text) return text.error();
    if (!*text) return std::optional<HashEntry>{};
    auto o = parse_object(**text);
    if (!o) return o.error();
    HashEntry entry;
    entry.hash = std::string(hash);
    entry.created = int_at(*o, "created");
    if (const auto* spec = o->if_contains("spec"); spec != nullptr && !spec->is_null()) {
        auto record = environment::record_from_json(*spec);
        if (!record) return bad_record();
        entry.spec = std::move(*record);
    }
    if (const auto* image = o->if_contains("image"); image != nullptr && !image->is_null()) {
        entry.image = image_from_json(*image);
        if (!entry.image) return bad_record();
    }
    return std::optional<HashEntry>(std::move(entry));
}

result<void> save_hash_entry(store::BlobStore& store, const HashEntry& entry) {
    json::object o;
    o["hash"] = entry.hash;
    o["created"] = entry.created;
    if (entry.spec) {
        auto spec = *entry.spec;
        spec.image.reset();  // the mapped image lives in "image" only
        o["spec"] = environment::record_to_json(spec);
    } else {
        o["spec"] = nullptr;
    }
    if (entry.image) {
        o["image"] = image_to_json(*entry.image);
        o["digest"] = entry.image->digest;
    } else {
        o["image"] = nullptr;
    }
    return store.put_record(k_envs_table, entry.hash, json::serialize(o));
}

result<std::optional<NamedEntry>> load_named(store::BlobStore& store, std::string_view name,
                                             std::string_view version) {
    auto text = store.get_record(k_names_table, named_key(name, version));
    if (!text) return text.error();
    if (!*text) return std::optional<NamedEntry>{};
    auto entry = named_from_text(**text);
    if (!entry) return entry.error();
    return std::optional<NamedEntry>(std::move(*entry));
}

result<void> save_named(store::BlobStore& store, const NamedEntry& entry) {
    auto record = entry.record;
    record.image.reset();  // images are mapped by hash, read from "envs"
    auto v = environment::record_to_json(record);
    v.get_object()["sequence"] = entry.sequence;
    return store.put_record(k_names_table, named_key(record.name, record.version),
                            json::serialize(v));
}

namespace {

// The named entries whose key starts with `prefix`, in sequence order.
result<std::vector<NamedEntry>> list_named(store::BlobStore& store, std::string_view prefix) {
    auto rows = store.list_records(k_names_table, prefix);
    if (!rows) return rows.error();
    std::vector<NamedEntry> out;
    out.reserve(rows->size());
    for (const auto& [key, value] : *rows) {
        auto entry = named_from_text(value);
        if (!entry) return entry.error();
        out.push_back(std::move(*entry));
    }
    sort_by_sequence(out);
    return out;
}

}  // namespace

result<std::vector<NamedEntry>> list_versions(store::BlobStore& store, std::string_view name) {
    std::string prefix(name);
    prefix.push_back('\0');
    return list_named(store, prefix);
}

result<std::vector<NamedEntry>> list_all_named(store::BlobStore& store) {
    return list_named(store, "");
}

}  // namespace proxy::environments
