#include "proxy/environments/environment_api.hpp"

#include <chrono>
#include <optional>
#include <vector>

#include <boost/json.hpp>

#include "environment/environment_hash.hpp"
#include "environment/image_reference.hpp"
#include "environment/record.hpp"
#include "environment/registry.hpp"
#include "environment/spec.hpp"
#include "proxy/environments/environment_image.hpp"
#include "proxy/environments/environment_records.hpp"

namespace proxy::environments {

namespace json = boost::json;
namespace net = boost::asio;
using Response = EnvironmentResponse;

namespace {

// A name the by-hash route would shadow (GET /api/v1/environments/by-hash/versions).
constexpr std::string_view k_by_hash = "by-hash";

Response json_response(unsigned status, const json::value& value) {
    Response r;
    r.status = status;
    r.body = json::serialize(value);
    return r;
}

Response error(unsigned status, std::string_view code, std::string_view message,
               json::value detail = nullptr) {
    json::object e{{"code", code}, {"message", message}};
    if (!detail.is_null()) e["detail"] = std::move(detail);
    return json_response(status, json::object{{"errors", json::array{std::move(e)}}});
}

Response spec_error(const environment::Error& e) {
    return error(400, "SPEC_INVALID", e.str(),
                 json::object{{"file", e.file}, {"line", e.line}, {"column", e.column}});
}

Response store_error(const boost::system::error_code& ec) {
    return error(500, "STORE_ERROR", "the store failed: " + ec.message());
}

Response method_not_allowed(std::string_view allow) {
    auto r = error(405, "UNSUPPORTED", "method not allowed; use " + std::string(allow));
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

Response not_found(std::string_view message) {
    return error(404, "NOT_FOUND", message);
}

std::int64_t now_of(const EnvironmentContext& ctx) {
    if (ctx.now) return ctx.now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

bool under(std::string_view path, std::string_view prefix) {
    return path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/');
}

// The segments after `prefix`; an empty segment (double or trailing slash) is kept, so it
// fails validation instead of matching another route.
std::vector<std::string_view> segments_after(std::string_view path, std::string_view prefix) {
    std::vector<std::string_view> out;
    auto rest = path.substr(prefix.size());
    if (rest.empty()) return out;
    rest.remove_prefix(1);  // the '/'
    while (true) {
        const auto slash = rest.find('/');
        out.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    return out;
}

std::optional<Response> check_name(std::string_view name) {
    if (auto problem = environment::name_problem(name); !problem.empty())
        return error(400, "NAME_INVALID", "invalid environment name: " + problem);
    return std::nullopt;
}

std::optional<Response> check_version_text(std::string_view version, bool allow_latest) {
    if (allow_latest && version == "latest") return std::nullopt;
    if (auto problem = environment::version_problem(version); !problem.empty())
        return error(400, "NAME_INVALID", "invalid environment version: " + problem);
    return std::nullopt;
}

std::optional<Response> check_hash(std::string_view hash) {
    if (environment::is_environment_hash(hash)) return std::nullopt;
    return error(400, "NAME_INVALID",
                 "invalid environment hash: expected 64 lowercase hex characters");
}

json::value mapped_image_json(const std::optional<MappedImage>& image) {
    if (!image) return nullptr;
    return json::object{{"reference", image->reference},   {"digest", image->digest},
                        {"upstream", image->upstream},     {"repository", image->repository},
                        {"media_type", image->media_type}, {"registered", image->registered}};
}

json::value base_json(const environment::ImageDigest& base) {
    return json::object{
        {"reference", base.reference},
        {"digest", base.digest.empty() ? json::value(nullptr) : json::value(base.digest)}};
}

json::value hash_entry_json(const HashEntry& entry) {
    json::object o;
    o["hash"] = entry.hash;
    o["canonical"] = entry.spec ? json::value(entry.spec->canonical) : json::value(nullptr);
    o["base"] = entry.spec ? base_json(entry.spec->base) : json::value(nullptr);
    o["image"] = mapped_image_json(entry.image);
    o["created"] = entry.created;
    return o;
}

json::object named_json(const NamedEntry& entry, const std::optional<MappedImage>& image) {
    const auto& r = entry.record;
    return json::object{{"name", r.name},
                        {"version", r.version},
                        {"hash", r.hash},
                        {"canonical", r.canonical},
                        {"base", base_json(r.base)},
                        {"image", mapped_image_json(image)},
                        {"curated", environment::is_reserved_name(r.name)},
                        {"created", r.created}};
}

json::array lint_json(const environment::HashedEnvironment& hashed) {
    json::array lint;
    for (const auto& f : hashed.findings)
        lint.push_back(environment::finding_to_json(f));
    return lint;
}

// The error answer for a failed upstream lookup of `reference`.
Response resolve_failure(std::string_view what, std::string_view reference,
                         const boost::system::error_code& ec) {
    if (ec == resolve_errc::not_found)
        return error(400, "IMAGE_UNKNOWN",
                     std::string(what) + " " + std::string(reference) + " was not found upstream");
    if (ec == resolve_errc::no_upstream)
        return error(
            400, "IMAGE_UNKNOWN",
            "no configured upstream serves " + std::string(what) + " " + std::string(reference));
    return error(502, "UPSTREAM_UNREACHABLE",
                 "could not look " + std::string(what) + " " + std::string(reference) +
                     " up upstream: " + ec.message());
}

struct Parsed {
    std::optional<Response> failure;
    json::value value;
};

Parsed parse_body(std::string_view body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec) return {error(400, "BODY_INVALID", "the body is not valid JSON: " + ec.message()), {}};
    if (!v.is_object()) return {error(400, "BODY_INVALID", "the body must be a JSON object"), {}};
    return {std::nullopt, std::move(v)};
}

struct HashOutcome {
    std::optional<Response> failure;
    environment::Bundle bundle;
    environment::HashedEnvironment hashed;
};

// Parses a bundle body, resolves its base image upstream (unless pinned by digest) and hashes.
net::awaitable<HashOutcome> hash_body(std::string_view body, EnvironmentContext& ctx) {
    HashOutcome out;
    auto parsed = parse_body(body);
    if (parsed.failure) {
        out.failure = std::move(parsed.failure);
        co_return out;
    }
    auto bundle = environment::bundle_from_json(parsed.value);
    if (!bundle) {
        out.failure = error(400, "BODY_INVALID", "invalid bundle: " + bundle.error().message);
        co_return out;
    }
    auto spec = environment::parse_spec(*bundle);
    if (!spec) {
        out.failure = spec_error(spec.error());
        co_return out;
    }
    std::string digest = spec->base.digest;
    if (digest.empty() && ctx.resolve) {
        const std::string reference = spec->base.str();
        auto resolved = co_await ctx.resolve(reference);
        if (!resolved) {
            out.failure = resolve_failure("base image", reference, resolved.error());
            co_return out;
        }
        if (!environment::is_sha256_digest(resolved->digest)) {
            out.failure =
                error(502, "UPSTREAM_UNREACHABLE",
                      "the upstream answered an invalid digest for base image " + reference);
            co_return out;
        }
        digest = resolved->digest;
    }
    environment::ResolveImage resolve;
    if (ctx.resolve)
        resolve = [&digest](std::string_view) -> boost::system::result<std::string> {
            return digest;
        };
    auto hashed = environment::hash_environment(*spec, resolve);
    if (!hashed) {
        out.failure = spec_error(hashed.error());
        co_return out;
    }
    out.bundle = std::move(*bundle);
    out.hashed = std::move(*hashed);
    co_return out;
}

// Makes sure "envs" holds the spec of `hashed` (keeping any image mapped to it). Caller holds
// the write mutex.
boost::system::result<HashEntry> remember_spec(EnvironmentContext& ctx,
                                               const environment::Bundle& bundle,
                                               const environment::HashedEnvironment& hashed,
                                               std::int64_t now) {
    auto loaded = load_hash_entry(ctx.store, hashed.hash);
    if (!loaded) return loaded.error();
    HashEntry entry;
    if (*loaded) {
        entry = std::move(**loaded);
        if (entry.spec) return entry;
    } else {
        entry.hash = hashed.hash;
        entry.created = now;
    }
    environment::EnvironmentRecord spec;
    spec.hash = hashed.hash;
    spec.canonical = hashed.canonical;
    spec.bundle = bundle;
    spec.base = {hashed.base.reference, hashed.base.digest};
    spec.created = now;
    entry.spec = std::move(spec);
    if (auto saved = save_hash_entry(ctx.store, entry); !saved) return saved.error();
    return entry;
}

// POST /api/v1/environments/resolve
net::awaitable<Response> resolve(const EnvironmentRequest& req, EnvironmentContext& ctx) {
    auto outcome = co_await hash_body(req.body, ctx);
    if (outcome.failure) co_return std::move(*outcome.failure);
    std::optional<MappedImage> image;
    {
        std::lock_guard lock(ctx.write_mutex);
        // Anonymous environments are kept by hash, so a later PUT by-hash and GET by-hash know
        // the spec.
        auto entry = remember_spec(ctx, outcome.bundle, outcome.hashed, now_of(ctx));
        if (!entry) co_return store_error(entry.error());
        image = entry->image;
    }
    auto body = environment::hashed_to_json(outcome.hashed);
    auto& o = body.get_object();
    o["image"] =
        image
            ? json::value(json::object{{"reference", image->reference}, {"digest", image->digest}})
            : json::value(nullptr);
    o["pull"] = image ? json::value(std::string(k_pull_repository_prefix) + outcome.hashed.hash +
                                    ":" + std::string(k_pull_tag))
                      : json::value(nullptr);
    co_return json_response(200, body);
}

// GET /api/v1/environments/by-hash/<hash>
Response get_by_hash(std::string_view hash, EnvironmentContext& ctx) {
    auto entry = load_hash_entry(ctx.store, hash);
    if (!entry) return store_error(entry.error());
    if (!*entry) return not_found("environment " + std::string(hash) + " is not known");
    return json_response(200, hash_entry_json(**entry));
}

// PUT /api/v1/environments/by-hash/<hash>
net::awaitable<Response> put_by_hash(std::string hash, const EnvironmentRequest& req,
                                     EnvironmentContext& ctx) {
    auto parsed = parse_body(req.body);
    if (parsed.failure) co_return std::move(*parsed.failure);
    const auto& o = parsed.value.get_object();
    const auto* image_field = o.if_contains("image");
    if (image_field == nullptr || !image_field->is_string())
        co_return error(400, "BODY_INVALID", "'image' must be an image reference string");
    bool pin = false;
    if (const auto* p = o.if_contains("pin"); p != nullptr && !p->is_null()) {
        if (!p->is_bool()) co_return error(400, "BODY_INVALID", "'pin' must be true or false");
        pin = p->get_bool();
    }
    auto reference = environment::parse_image_reference(image_field->get_string());
    if (!reference)
        co_return error(400, "IMAGE_INVALID", "invalid image reference: " + reference.error());
    const std::string text = reference->str();
    if (!ctx.resolve)
        co_return error(502, "UPSTREAM_UNREACHABLE",
                        "no upstream lookup is configured to resolve image " + text);
    auto resolved = co_await ctx.resolve(text);
    if (!resolved) co_return resolve_failure("image", text, resolved.error());
    if (!environment::is_sha256_digest(resolved->digest) ||
        (!reference->digest.empty() && resolved->digest != reference->digest))
        co_return error(502, "UPSTREAM_UNREACHABLE",
                        "the upstream answered an unexpected digest for image " + text);

    unsigned status = 201;
    HashEntry entry;
    {
        std::lock_guard lock(ctx.write_mutex);
        const auto now = now_of(ctx);
        auto loaded = load_hash_entry(ctx.store, hash);
        if (!loaded) co_return store_error(loaded.error());
        if (*loaded) {
            entry = std::move(**loaded);
            if (entry.image) status = 200;
        } else {
            entry.hash = hash;
            entry.created = now;
        }
        entry.image = MappedImage{
            text, resolved->digest, resolved->upstream, resolved->repository, resolved->media_type,
            now};
        if (auto saved = save_hash_entry(ctx.store, entry); !saved)
            co_return store_error(saved.error());
    }
    // After the write: the evictor resolves a hash pin through the record's digest.
    if (pin && !(ctx.pin && ctx.pin(hash)))
        co_return error(
            500, "PIN_FAILED",
            "the image was registered for environment " + hash + " but could not be pinned");
    auto body = hash_entry_json(entry);
    body.get_object()["pinned"] = pin;
    co_return json_response(status, body);
}

// PUT .../<name>/versions/<version> and PUT /api/v1/admin/curated/<name>/versions/<version>.
net::awaitable<Response> put_named(std::string name, std::string version, bool curated_path,
                                   const EnvironmentRequest& req, EnvironmentContext& ctx) {
    if (auto bad = check_name(name)) co_return std::move(*bad);
    if (auto bad = check_version_text(version, false)) co_return std::move(*bad);
    if (name == k_by_hash)
        co_return error(400, "NAME_INVALID", "the name 'by-hash' is reserved for the API");
    if (curated_path && !req.is_admin)
        co_return error(403, "DENIED", "registering curated environments requires an admin");
    if (!curated_path && environment::is_reserved_name(name))
        co_return error(403, "DENIED",
                        "names beginning with 'AzureML-' or 'Microsoft' are reserved for curated "
                        "environments; an admin registers them through PUT " +
                            std::string(k_curated_prefix) + "/<name>/versions/<version>");

    auto outcome = co_await hash_body(req.body, ctx);
    if (outcome.failure) co_return std::move(*outcome.failure);
    const auto& hashed = outcome.hashed;

    std::lock_guard lock(ctx.write_mutex);
    const auto now = now_of(ctx);
    auto existing = load_named(ctx.store, name, version);
    if (!existing) co_return store_error(existing.error());
    std::optional<std::string> existing_hash;
    if (*existing) existing_hash = (*existing)->record.hash;
    const auto check = environment::check_version(existing_hash, hashed.hash);
    if (check == environment::VersionCheck::conflict)
        co_return error(409, "CONFLICT",
                        "version " + version + " of " + name + " is already registered with hash " +
                            *existing_hash + "; this content hashes to " + hashed.hash +
                            " (versions are immutable: register a new version)");

    NamedEntry entry;
    if (check == environment::VersionCheck::unchanged) {
        entry = std::move(**existing);
    } else {
        auto versions = list_versions(ctx.store, name);
        if (!versions) co_return store_error(versions.error());
        std::uint64_t sequence = 0;
        for (const auto& v : *versions)
            sequence = std::max(sequence, v.sequence);
        auto& r = entry.record;
        r.name = name;
        r.version = version;
        r.hash = hashed.hash;
        r.canonical = hashed.canonical;
        r.bundle = outcome.bundle;
        r.base = {hashed.base.reference, hashed.base.digest};
        r.created = now;
        entry.sequence = sequence + 1;
        if (auto saved = save_named(ctx.store, entry); !saved) co_return store_error(saved.error());
    }
    auto hash_entry = remember_spec(ctx, outcome.bundle, hashed, now);
    if (!hash_entry) co_return store_error(hash_entry.error());
    auto body = named_json(entry, hash_entry->image);
    body["lint"] = lint_json(hashed);
    co_return json_response(static_cast<unsigned>(environment::http_status(check)), body);
}

// The version entry a GET names ("latest": the most recently registered version).
struct Lookup {
    std::optional<Response> failure;
    NamedEntry entry;
};

Lookup find_version(EnvironmentContext& ctx, std::string_view name, std::string_view version) {
    if (auto bad = check_name(name)) return {std::move(bad), {}};
    if (auto bad = check_version_text(version, true)) return {std::move(bad), {}};
    if (version == "latest") {
        auto versions = list_versions(ctx.store, name);
        if (!versions) return {store_error(versions.error()), {}};
        if (versions->empty())
            return {not_found("no environment named " + std::string(name) + " is registered"), {}};
        return {std::nullopt, std::move(versions->back())};
    }
    auto entry = load_named(ctx.store, name, version);
    if (!entry) return {store_error(entry.error()), {}};
    if (!*entry)
        return {not_found("version " + std::string(version) + " of environment " +
                          std::string(name) + " is not registered"),
                {}};
    return {std::nullopt, std::move(**entry)};
}

// The image mapped to a hash; a store error or a bad record reads as "no image".
std::optional<MappedImage> image_of(EnvironmentContext& ctx, std::string_view hash) {
    auto entry = load_hash_entry(ctx.store, hash);
    if (!entry || !*entry) return std::nullopt;
    return (*entry)->image;
}

Response get_version(EnvironmentContext& ctx, std::string_view name, std::string_view version) {
    auto found = find_version(ctx, name, version);
    if (found.failure) return std::move(*found.failure);
    return json_response(200, named_json(found.entry, image_of(ctx, found.entry.record.hash)));
}

Response export_version(EnvironmentContext& ctx, std::string_view name, std::string_view version) {
    auto found = find_version(ctx, name, version);
    if (found.failure) return std::move(*found.failure);
    const auto& r = found.entry.record;
    return json_response(200, json::object{{"name", r.name},
                                           {"version", r.version},
                                           {"hash", r.hash},
                                           {"canonical", r.canonical},
                                           {"base", base_json(r.base)},
                                           {"bundle", environment::bundle_to_json(r.bundle)}});
}

Response list_versions_of(EnvironmentContext& ctx, std::string_view name) {
    if (auto bad = check_name(name)) return std::move(*bad);
    auto versions = list_versions(ctx.store, name);
    if (!versions) return store_error(versions.error());
    if (versions->empty())
        return not_found("no environment named " + std::string(name) + " is registered");
    json::array out;
    for (const auto& v : *versions) {
        auto image = image_of(ctx, v.record.hash);
        out.push_back(json::object{{"version", v.record.version},
                                   {"hash", v.record.hash},
                                   {"created", v.record.created},
                                   {"image", mapped_image_json(image)}});
    }
    return json_response(200, json::object{{"name", name},
                                           {"latest", versions->back().record.version},
                                           {"versions", std::move(out)}});
}

Response list_names(EnvironmentContext& ctx) {
    auto all = list_all_named(ctx.store);
    if (!all) return store_error(all.error());
    json::array out;
    // list_all_named groups by name with each name's versions oldest first: the last of a
    // group is its latest.
    for (std::size_t i = 0; i < all->size(); ++i) {
        const auto& r = (*all)[i].record;
        const bool last_of_name = i + 1 == all->size() || (*all)[i + 1].record.name != r.name;
        if (!last_of_name) continue;
        std::size_t count = 1;
        while (count <= i && (*all)[i - count].record.name == r.name)
            ++count;
        out.push_back(json::object{{"name", r.name},
                                   {"latest", r.version},
                                   {"hash", r.hash},
                                   {"versions", count},
                                   {"curated", environment::is_reserved_name(r.name)}});
    }
    return json_response(200, json::object{{"environments", std::move(out)}});
}

net::awaitable<Response> route_environments(const EnvironmentRequest& req, EnvironmentContext& ctx,
                                            const std::vector<std::string_view>& seg) {
    const auto method = req.method;
    const bool get = method == "GET" || method == "HEAD";
    if (seg.empty()) {
        if (!get) co_return method_not_allowed("GET");
        co_return list_names(ctx);
    }
    if (seg.size() == 1 && seg[0] == "resolve") {
        if (method != "POST") co_return method_not_allowed("POST");
        co_return co_await resolve(req, ctx);
    }
    if (seg.size() == 2 && seg[0] == k_by_hash) {
        if (auto bad = check_hash(seg[1])) co_return std::move(*bad);
        if (get) co_return get_by_hash(seg[1], ctx);
        if (method == "PUT") {
            std::string hash(seg[1]);
            co_return co_await put_by_hash(hash, req, ctx);
        }
        co_return method_not_allowed("GET, PUT");
    }
    if (seg.size() == 2 && seg[1] == "versions") {
        if (!get) co_return method_not_allowed("GET");
        co_return list_versions_of(ctx, seg[0]);
    }
    if (seg.size() == 3 && seg[1] == "versions") {
        if (get) co_return get_version(ctx, seg[0], seg[2]);
        if (method == "PUT") {
            std::string name(seg[0]);
            std::string version(seg[2]);
            co_return co_await put_named(name, version, false, req, ctx);
        }
        co_return method_not_allowed("GET, PUT");
    }
    if (seg.size() == 4 && seg[1] == "versions" && seg[3] == "export") {
        if (!get) co_return method_not_allowed("GET");
        co_return export_version(ctx, seg[0], seg[2]);
    }
    co_return not_found("no such environment API endpoint");
}

}  // namespace

bool is_environment_path(std::string_view target) {
    return under(path_of(target), k_environments_prefix);
}

bool is_curated_path(std::string_view target) {
    return under(path_of(target), k_curated_prefix);
}

net::awaitable<Response> handle_environments(const EnvironmentRequest& req,
                                             EnvironmentContext& ctx) {
    const auto path = path_of(req.target);
    if (under(path, k_curated_prefix)) {
        const auto seg = segments_after(path, k_curated_prefix);
        if (seg.size() == 3 && seg[1] == "versions") {
            if (req.method != "PUT") co_return method_not_allowed("PUT");
            std::string name(seg[0]);
            std::string version(seg[2]);
            co_return co_await put_named(name, version, true, req, ctx);
        }
        co_return not_found("no such curated environment endpoint; PUT " +
                            std::string(k_curated_prefix) + "/<name>/versions/<version>");
    }
    if (under(path, k_environments_prefix)) {
        const auto seg = segments_after(path, k_environments_prefix);
        co_return co_await route_environments(req, ctx, seg);
    }
    co_return not_found("not an environment API path");
}

}  // namespace proxy::environments
