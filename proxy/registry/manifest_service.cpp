#include "proxy/registry/manifest_service.hpp"

#include <chrono>

#include "proxy/log.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/server/response_head.hpp"
#include "proxy/upstream/small_answer.hpp"
#include "proxy/upstream/upstream_error.hpp"
#include "store/sha256.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

upstream::Request manifest_request(http::verb method, const UpstreamTarget& target,
                                   const std::string& reference, const std::string& accept) {
    upstream::Request request = upstream_request(method, target, "manifests/" + reference);
    request.headers.set(http::field::accept, accept.empty() ? all_manifest_types() : accept);
    return request;
}

// What makes two manifest requests the same request to the upstream.
std::string flight_key(const UpstreamTarget& target, const std::string& reference,
                       const std::string& accept) {
    return std::to_string(target.index) + ' ' + target.repo + ' ' + reference + ' ' + accept;
}

std::int64_t steady_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string negative_key(const store::TagKey& key) {
    return key.upstream + ' ' + key.repo + ' ' + key.tag;
}

// A failure worth counting as an upstream error: not a request the open breaker kept back.
bool counts_as_upstream_error(const boost::system::error_code& ec) {
    return ec != make_error_code(upstream::Error::circuit_open);
}

ManifestAnswer failure(OciError error, std::string outcome) {
    ManifestAnswer answer;
    answer.error = std::move(error);
    answer.outcome = std::move(outcome);
    return answer;
}

}  // namespace

OciError unreachable_error(const upstream::Client& client) {
    const upstream::Health* health = client.health();
    const bool open = health && health->snapshot().state != upstream::Health::State::closed;
    return upstream_unavailable_at(client.config().name, open);
}

ManifestService::ManifestService(const config::Config& config, cache::Cache& cache,
                                 std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                                 Metrics& metrics)
    : m_config(config),
      m_cache(cache),
      m_clients(std::move(clients)),
      m_fetcher(fetcher),
      m_metrics(metrics) {}

ManifestPtr share_manifest(Manifest manifest) {
    http::fields fields;
    fields.set(http::field::content_type, manifest.media_type);
    const std::string digest = manifest.digest.str();
    fields.set("Docker-Content-Digest", digest);
    fields.set(http::field::etag, "\"" + digest + "\"");
    manifest.head_fields.clear();
    server::append_fields(manifest.head_fields, fields);
    return std::make_shared<const Manifest>(std::move(manifest));
}

ManifestPtr ManifestService::load(const store::Digest& digest) {
    ManifestPtr copy;
    {
        std::lock_guard lock(m_copies_mutex);
        if (const ManifestPtr* found = m_copies.find(digest)) copy = *found;
    }
    if (copy) {
        // Outside the copies' lock: the hit takes the cache's own locks, which other threads
        // hold too, and a loop waiting for them must not hold up the other loops' hits.
        m_cache.record_hit(digest);
        return copy;
    }
    auto info = m_cache.stat(digest);
    if (!info) {
        bump(m_metrics.total().store_errors);
        return nullptr;
    }
    if (!*info || (*info)->size > upstream::k_max_manifest_bytes) return nullptr;
    Manifest manifest{{}, (*info)->media_type, digest, {}};
    manifest.body.reserve((*info)->size);
    auto read = m_cache.read_range(digest, 0, (*info)->size, [&](std::span<const char> piece) {
        manifest.body.append(piece.data(), piece.size());
        return true;
    });
    if (!read || manifest.body.size() != (*info)->size) {
        bump(m_metrics.total().store_errors);
        return nullptr;
    }
    m_cache.record_hit(digest);
    ManifestPtr shared = share_manifest(std::move(manifest));
    {
        std::lock_guard lock(m_copies_mutex);
        m_copies.put(digest, shared);
    }
    return shared;
}

cache::result<std::optional<ManifestService::TagPointer>> ManifestService::find_tag(
    const store::TagKey& key) {
    {
        std::lock_guard lock(m_tags_mutex);
        if (const TagPointer* copy = m_tags.find(key)) return *copy;
    }
    auto record = m_cache.get_tag(key);
    if (!record) return record.error();
    if (!*record) return std::optional<TagPointer>();
    const TagPointer pointer{(*record)->digest, (*record)->fetched_at};
    {
        std::lock_guard lock(m_tags_mutex);
        // A put_tag that finished meanwhile wrote a newer record: it stays.
        if (!m_tags.find(key)) m_tags.put(key, pointer);
    }
    return pointer;
}

net::awaitable<bool> ManifestService::put_tag(store::TagKey key, store::TagRecord record) {
    auto putting = m_cache.put_tag(key, record);
    auto put = co_await std::move(putting);
    std::lock_guard lock(m_tags_mutex);
    if (!put) {
        m_tags.erase(key);  // the store decides what the tag is
    } else if (const TagPointer* copy = m_tags.find(key);
               !copy || copy->fetched_at <= record.fetched_at) {
        // Two puts of one tag may resume in another order than they were stored in: the
        // newer record stays.
        m_tags.put(key, {record.digest, record.fetched_at});
    }
    co_return static_cast<bool>(put);
}

net::awaitable<void> ManifestService::store_manifest(const UpstreamTarget& target,
                                                     const Manifest& manifest) {
    const auto existing = m_cache.stat(manifest.digest);
    if (!existing || !*existing) {
        auto putting = m_cache.put_blob(manifest.digest, manifest.media_type, manifest.body);
        if (auto put = co_await std::move(putting); !put) {
            m_metrics.add(target.index, &Counters::store_errors);
            log_line("manifest " + manifest.digest.str() +
                     ": not stored: " + put.error().message());
        }
    }
    const auto refs = parse_manifest_refs(manifest.body);
    if (!refs) co_return;
    if (!refs->children.empty()) {
        auto putting = m_cache.put_refs(manifest.digest, refs->children);
        if (auto put = co_await std::move(putting); !put)
            m_metrics.add(target.index, &Counters::store_errors);
    }
    if (m_config.prefetch && !refs->is_index) {
        for (const auto& blob : refs->blobs)
            m_fetcher.prefetch(blob, {m_clients[target.index], target.index, target.repo,
                                      target.caller_authorization});
    }
}

bool ManifestService::circuit_open(std::size_t up) const {
    const upstream::Health* health = m_clients[up]->health();
    return health && health->snapshot().state != upstream::Health::State::closed;
}

bool ManifestService::known_missing(const store::TagKey& key, std::size_t up) {
    if (m_config.upstreams[up].negative_ttl.count() == 0) return false;
    const std::lock_guard lock(m_negative_mutex);
    const std::int64_t* until = m_negative.find(negative_key(key));
    return until && steady_seconds() < *until;
}

void ManifestService::remember_missing(const store::TagKey& key, std::size_t up) {
    const auto ttl = m_config.upstreams[up].negative_ttl.count();
    if (ttl == 0) return;
    const std::lock_guard lock(m_negative_mutex);
    m_negative.put(negative_key(key), steady_seconds() + ttl);
}

OciError ManifestService::fetch_error(const ManifestFetch& fetched, std::size_t up) const {
    switch (fetched.kind) {
        case ManifestFetch::Kind::status:
            return fetched.status == 404 ? manifest_unknown()
                                         : from_upstream_status(fetched.status);
        case ManifestFetch::Kind::invalid:
            return from_upstream_status(502, "upstream manifest does not match its digest");
        case ManifestFetch::Kind::ok:
        case ManifestFetch::Kind::unreachable:
            break;
    }
    return unreachable_error(*m_clients[up]);
}

net::awaitable<ManifestService::ManifestFetch> ManifestService::fetch_once(
    UpstreamTarget target, std::string reference, std::string accept,
    std::optional<store::Digest> expected, std::optional<store::TagKey> tag, std::string& outcome) {
    // A caller that joins is counted as coalesced when it joins (as for blobs), so the count
    // shows a burst while it waits.
    auto fetch_op = [this, target, reference, accept, expected, tag = std::move(tag)] {
        return fetch(target, reference, accept, expected, tag);
    };
    auto count_join = [this, up = target.index] { m_metrics.add(up, &Counters::coalesced); };
    auto running = m_fetches.run(flight_key(target, reference, accept), fetch_op, count_join);
    auto result = co_await std::move(running);
    outcome = result.coalesced ? "coalesced" : "miss";
    if (!result.coalesced) m_metrics.add(target.index, &Counters::misses);
    co_return std::move(result.value);
}

net::awaitable<ManifestService::TagCheck> ManifestService::check_tag(UpstreamTarget target,
                                                                     std::string reference,
                                                                     std::string accept,
                                                                     store::TagKey key,
                                                                     store::TagRecord stored) {
    // A stale copy is there to serve: the HEAD has a short budget of its own and no retries.
    upstream::Request request = manifest_request(http::verb::head, target, reference, accept);
    request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        m_config.upstreams[target.index].revalidate_timeout);
    request.retry = false;
    auto calling = upstream::fetch_small(*m_clients[target.index], std::move(request), 0);
    auto answer = co_await std::move(calling);
    if (!answer || upstream::is_server_error(answer->status)) {
        if (answer || counts_as_upstream_error(answer.error()))
            m_metrics.add(target.index, &Counters::upstream_errors);
        co_return TagCheck::unreachable;
    }
    if (answer->status == 404) {
        remember_missing(key, target.index);
        co_return TagCheck::gone;
    }
    if (answer->status != 200) co_return TagCheck::other;
    const auto it = answer->headers.find("Docker-Content-Digest");
    const auto current =
        it == answer->headers.end() ? std::nullopt : store::Digest::parse(std::string(it->value()));
    if (!current || *current != stored.digest) co_return TagCheck::other;
    stored.fetched_at = now_seconds();
    auto putting = put_tag(key, stored);
    if (!co_await std::move(putting)) m_metrics.add(target.index, &Counters::store_errors);
    co_return TagCheck::same;
}

net::awaitable<ManifestService::ManifestFetch> ManifestService::fetch(
    UpstreamTarget target, std::string reference, std::string accept,
    std::optional<store::Digest> expected, std::optional<store::TagKey> tag) {
    ManifestFetch result;
    auto calling = upstream::fetch_small(
        *m_clients[target.index], manifest_request(http::verb::get, target, reference, accept),
        upstream::k_max_manifest_bytes);
    auto answer = co_await std::move(calling);
    if (!answer) {
        if (counts_as_upstream_error(answer.error()))
            m_metrics.add(target.index, &Counters::upstream_errors);
        co_return result;
    }
    if (tag && answer->status == 404) remember_missing(*tag, target.index);
    if (answer->status != 200) {
        if (upstream::is_server_error(answer->status))
            m_metrics.add(target.index, &Counters::upstream_errors);
        result.kind = ManifestFetch::Kind::status;
        result.status = answer->status;
        co_return result;
    }
    const store::Digest digest = store::Sha256::of(answer->body);
    const auto claimed_it = answer->headers.find("Docker-Content-Digest");
    const auto claimed_digest = claimed_it == answer->headers.end()
                                    ? std::nullopt
                                    : store::Digest::parse(std::string(claimed_it->value()));
    if ((expected && digest != *expected) || (claimed_digest && *claimed_digest != digest)) {
        m_metrics.add(target.index, &Counters::digest_mismatch);
        log_line("manifest " + target.repo + ":" + reference +
                 ": upstream content does not match its digest; not stored");
        result.kind = ManifestFetch::Kind::invalid;
        co_return result;
    }
    std::string media_type = upstream::joined_header(answer->headers, http::field::content_type);
    media_type = media_type.substr(0, media_type.find(';'));
    if (media_type.empty() || media_type == "application/json" || media_type == "text/plain") {
        const auto refs = parse_manifest_refs(answer->body);
        media_type =
            refs && !refs->media_type.empty() ? refs->media_type : std::string(k_oci_manifest);
    }
    result.kind = ManifestFetch::Kind::ok;
    result.manifest = Manifest{std::move(answer->body), std::move(media_type), digest, {}};
    m_metrics.add(target.index, &Counters::bytes_from_upstream, result.manifest.body.size());
    auto storing = store_manifest(target, result.manifest);
    co_await std::move(storing);
    if (tag) {
        auto putting =
            put_tag(*tag, {result.manifest.digest, result.manifest.media_type, now_seconds()});
        if (!co_await std::move(putting)) m_metrics.add(target.index, &Counters::store_errors);
    }
    co_return result;
}

ManifestAnswer ManifestService::cached(const UpstreamTarget& target, ManifestPtr manifest,
                                       const char* outcome) {
    const std::string_view kind(outcome);
    m_metrics.add(target.index, kind == "stale" ? &Counters::stale : &Counters::hits);
    m_metrics.add(target.index, &Counters::bytes_from_cache, manifest->body.size());
    ManifestAnswer answer;
    answer.manifest = std::move(manifest);
    answer.outcome = outcome;
    return answer;
}

net::awaitable<ManifestAnswer> ManifestService::by_digest(UpstreamTarget target,
                                                          store::Digest digest,
                                                          std::string accept) {
    if (auto stored = load(digest)) co_return cached(target, std::move(stored), "hit");
    std::string outcome;
    auto fetching = fetch_once(target, digest.str(), accept, digest, std::nullopt, outcome);
    ManifestFetch fetched = co_await std::move(fetching);
    if (fetched.kind != ManifestFetch::Kind::ok)
        co_return failure(fetch_error(fetched, target.index), outcome);
    ManifestAnswer answer;
    answer.manifest = share_manifest(std::move(fetched.manifest));
    answer.outcome = outcome;
    co_return answer;
}

net::awaitable<ManifestAnswer> ManifestService::by_tag(UpstreamTarget target, std::string tag,
                                                       std::string accept) {
    const std::size_t up = target.index;
    const store::TagKey key{m_config.upstreams[up].name, target.repo, tag};
    ManifestPtr stored;
    std::int64_t fetched_at = 0;
    if (auto record = find_tag(key); !record) {
        m_metrics.add(up, &Counters::store_errors);
    } else if (*record) {
        stored = load((*record)->digest);
        fetched_at = (*record)->fetched_at;
    }
    const bool acceptable = stored && accepts(accept, stored->media_type);
    const auto ttl = m_config.upstreams[up].tag_ttl.count();
    const auto age = now_seconds() - fetched_at;
    if (acceptable && age < ttl) co_return cached(target, std::move(stored), "hit");
    if (known_missing(key, up)) {
        m_metrics.add(up, &Counters::negative);
        co_return failure(manifest_unknown(), "negative");
    }
    const auto swr = m_config.upstreams[up].stale_while_revalidate.count();
    if (acceptable && swr > 0 && age < ttl + swr) {
        revalidate_in_background(target, tag, accept, key, {stored->digest, stored->media_type, 0});
        co_return cached(target, std::move(stored), "stale");
    }
    if (acceptable) {
        auto checking =
            m_tag_checks.run("HEAD " + flight_key(target, tag, accept),
                             [this, target, tag, accept, key,
                              record = store::TagRecord{stored->digest, stored->media_type, 0}] {
                                 return check_tag(target, tag, accept, key, record);
                             });
        const auto check = co_await std::move(checking);
        switch (check.value) {
            case TagCheck::same:
                co_return cached(target, std::move(stored), "hit");
            case TagCheck::unreachable:
                // While the breaker is open its change of state was logged once; every
                // request served stale then is in the access log and the `stale` count.
                if (!circuit_open(up))
                    log_line("manifest " + target.repo + ":" + tag +
                             ": upstream unavailable, serving the stale copy");
                co_return cached(target, std::move(stored), "stale");
            case TagCheck::gone:
                co_return failure(manifest_unknown(), "-");
            case TagCheck::other:
                break;
        }
    }

    std::string outcome;
    auto fetching = fetch_once(target, tag, accept, std::nullopt, key, outcome);
    ManifestFetch fetched = co_await std::move(fetching);
    if (fetched.kind == ManifestFetch::Kind::ok) {
        ManifestAnswer answer;
        answer.manifest = share_manifest(std::move(fetched.manifest));
        answer.outcome = outcome;
        co_return answer;
    }
    const bool upstream_down =
        fetched.kind == ManifestFetch::Kind::unreachable ||
        (fetched.kind == ManifestFetch::Kind::status && upstream::is_server_error(fetched.status));
    if (!upstream_down) co_return failure(fetch_error(fetched, up), outcome);
    // Offline: the stale copy is better than nothing.
    if (stored) co_return cached(target, std::move(stored), "stale");
    co_return failure(unreachable_error(*m_clients[up]), outcome);
}

void ManifestService::revalidate_in_background(const UpstreamTarget& target, const std::string& tag,
                                               const std::string& accept, const store::TagKey& key,
                                               const store::TagRecord& record) {
    std::string flight = negative_key(key);
    {
        const std::lock_guard lock(m_revalidating_mutex);
        if (!m_revalidating.insert(flight).second) return;
    }
    if (!m_fetcher.run_background(revalidate(target, tag, accept, key, record, flight))) {
        const std::lock_guard lock(m_revalidating_mutex);
        m_revalidating.erase(flight);
    }
}

net::awaitable<void> ManifestService::revalidate(UpstreamTarget target, std::string tag,
                                                 std::string accept, store::TagKey key,
                                                 store::TagRecord record, std::string flight) {
    auto checking = m_tag_checks.run("HEAD " + flight_key(target, tag, accept),
                                     [this, target, tag, accept, key, record] {
                                         return check_tag(target, tag, accept, key, record);
                                     });
    const auto check = co_await std::move(checking);
    if (check.value == TagCheck::other) {
        // The tag moved: the new manifest is fetched and the tag pointed at it.
        std::string outcome;
        auto fetching = fetch_once(target, tag, accept, std::nullopt, key, outcome);
        std::ignore = co_await std::move(fetching);
    }
    const std::lock_guard lock(m_revalidating_mutex);
    m_revalidating.erase(flight);
}

}  // namespace proxy::registry
