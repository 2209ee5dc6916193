#include "cache/pins.hpp"

#include <algorithm>
#include <deque>

#include <boost/json.hpp>

#include "cache/referrer_records.hpp"

namespace cache {

namespace {

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

struct ImageRef {
    store::TagKey tag;
    std::optional<store::Digest> digest;
};

// "upstream/repo:tag" or "upstream/repo@sha256:..."; the upstream is the first path component.
std::optional<ImageRef> parse_ref(std::string_view pin, std::string* why) {
    auto fail = [&](const char* reason) -> std::optional<ImageRef> {
        if (why) *why = reason;
        return std::nullopt;
    };
    ImageRef ref;
    if (auto at = pin.find('@'); at != std::string_view::npos) {
        ref.digest = store::Digest::parse(pin.substr(at + 1));
        if (!ref.digest) return fail("the digest after '@' must be sha256:<64 lowercase hex>");
        pin = pin.substr(0, at);
    }
    const auto slash = pin.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == pin.size())
        return fail(
            "expected upstream/repo:tag, upstream/repo@sha256:..., sha256:... or an "
            "environment hash");
    ref.tag.upstream = std::string(pin.substr(0, slash));
    std::string_view repo = pin.substr(slash + 1);
    const auto colon = repo.rfind(':');
    if (colon != std::string_view::npos && repo.find('/', colon) == std::string_view::npos) {
        ref.tag.tag = std::string(repo.substr(colon + 1));
        repo = repo.substr(0, colon);
        if (ref.tag.tag.empty()) return fail("empty tag");
    } else if (!ref.digest) {
        ref.tag.tag = "latest";
    }
    if (repo.empty()) return fail("empty repository");
    for (char c : repo) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                        c == '-' || c == '/';
        if (!ok) return fail("repository names are lowercase letters, digits, '.', '_', '-', '/'");
    }
    ref.tag.repo = std::string(repo);
    if (ref.tag.upstream == "docker.io" && ref.tag.repo.find('/') == std::string::npos)
        ref.tag.repo = "library/" + ref.tag.repo;
    return ref;
}

std::optional<store::Digest> env_digest(store::BlobStore& store, std::string_view hash) {
    auto record = store.get_record("envs", hash);
    if (!record || !*record) return std::nullopt;
    boost::system::error_code ec;
    auto value = boost::json::parse(**record, ec);
    if (ec || !value.is_object()) return std::nullopt;
    const auto& obj = value.get_object();
    for (const char* key : {"digest", "manifest_digest"}) {
        if (auto it = obj.find(key); it != obj.end() && it->value().is_string())
            return store::Digest::parse(std::string_view(it->value().get_string()));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_pin(std::string_view pin) {
    if (pin.empty()) return std::string("empty pin");
    if (pin.size() > 512) return std::string("pin longer than 512 characters");
    if (is_hex64(pin)) return std::nullopt;
    if (pin.starts_with("sha256:")) {
        if (store::Digest::parse(pin)) return std::nullopt;
        return std::string("a digest is sha256:<64 lowercase hex>");
    }
    std::string why;
    if (parse_ref(pin, &why)) return std::nullopt;
    return why;
}

std::optional<store::Digest> resolve_pin(store::BlobStore& store, std::string_view pin) {
    if (is_hex64(pin)) return env_digest(store, pin);
    if (pin.starts_with("sha256:")) return store::Digest::parse(pin);
    auto ref = parse_ref(pin, nullptr);
    if (!ref) return std::nullopt;
    if (ref->digest) return ref->digest;
    auto tag = store.get_tag(ref->tag);
    if (!tag || !*tag) return std::nullopt;
    return (*tag)->digest;
}

DigestSet protected_digests(store::BlobStore& store, std::span<const std::string> pins) {
    DigestSet out;
    std::deque<store::Digest> todo;
    for (const auto& pin : pins) {
        if (auto root = resolve_pin(store, pin); root && out.insert(*root).second)
            todo.push_back(*root);
    }
    while (!todo.empty()) {
        const store::Digest d = todo.front();
        todo.pop_front();
        // Its stored referrers answers lead to its signatures and SBOMs, and their blobs.
        if (auto answers = referrers_indexes(store, d))
            for (const auto& index : *answers)
                if (out.insert(index).second) todo.push_back(index);
        auto children = store.get_refs(d);
        if (!children) continue;
        for (const auto& child : *children) {
            if (out.insert(child).second) todo.push_back(child);
        }
    }
    return out;
}

}  // namespace cache
