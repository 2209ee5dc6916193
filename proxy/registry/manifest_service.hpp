#pragma once
// Manifests for the pull API, decided as values: from the in-memory copies, the store, or the
// upstream (one request per distinct manifest however many callers ask at once), stored with
// their refs and tags. The registry handler only sends what this returns.

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "config/config.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/fetch/single_flight.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/lru_cache.hpp"
#include "proxy/registry/oci_error.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

namespace net = boost::asio;

// Seconds since the epoch: the clock of the stored tag and referrers records.
std::int64_t now_seconds();

struct Manifest {
    std::string body;
    std::string media_type;
    store::Digest digest;
    // Content-Type, Docker-Content-Digest and ETag as response head lines (server::append_fields):
    // set by share_manifest, so that each answer does not render them again.
    std::string head_fields;
};

// A manifest as the in-memory copies and the answers hold it: shared, never copied per request.
using ManifestPtr = std::shared_ptr<const Manifest>;
// Shares `manifest`, with its head_fields rendered.
ManifestPtr share_manifest(Manifest manifest);

// What a manifest request gets: the manifest to send, or the error to send instead.
struct ManifestAnswer {
    ManifestPtr manifest;
    OciError error;
    std::string outcome = "-";  // hit | miss | stale | coalesced (the access log's)
};

// The error for a request `client`'s upstream did not answer: names the upstream, and is a 503
// while its circuit breaker is open.
OciError unreachable_error(const upstream::Client& client);

class ManifestService {
  public:
    // `clients[i]` talks to config.upstreams[i]. Everything passed must outlive the service.
    ManifestService(const config::Config& config, cache::Cache& cache,
                    std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                    Metrics& metrics);

    // Content by digest is immutable: a stored copy answers whatever `accept` says.
    net::awaitable<ManifestAnswer> by_digest(UpstreamTarget target, store::Digest digest,
                                             std::string accept);
    // The tag record decides while it is younger than tag_ttl; after that the upstream is
    // asked (HEAD, within revalidate_timeout and not retried), and an unreachable upstream gets
    // the stale copy. Within stale_while_revalidate past tag_ttl the stale copy is served at
    // once and the HEAD goes in the background. A tag the upstream said 404 for is answered
    // 404 from here for negative_ttl.
    net::awaitable<ManifestAnswer> by_tag(UpstreamTarget target, std::string tag,
                                          std::string accept);

    // The stored manifest, from the in-memory copies or the store; a found one counts as a hit.
    ManifestPtr load(const store::Digest& digest);
    // Stores a manifest (or index) and the refs to its children; failures are logged and
    // counted, never the caller's.
    net::awaitable<void> store_manifest(const UpstreamTarget& target, const Manifest& manifest);

  private:
    struct ManifestFetch {
        enum class Kind { ok, status, unreachable, invalid } kind = Kind::unreachable;
        unsigned status = 0;
        Manifest manifest;
    };
    // The upstream's answer to a HEAD of a tag whose stored manifest is past tag_ttl.
    enum class TagCheck {
        same,         // still the stored digest (the tag record was refreshed)
        gone,         // 404
        other,        // another digest, or an answer that says nothing: fetch the manifest
        unreachable,  // no answer or a server error: serve the stale copy
    };

    // Fetches a manifest, stores it and, given `tag`, points that tag at it.
    net::awaitable<ManifestFetch> fetch(UpstreamTarget target, std::string reference,
                                        std::string accept, std::optional<store::Digest> expected,
                                        std::optional<store::TagKey> tag);
    // fetch() through the single flight; `outcome` is set to miss or coalesced.
    net::awaitable<ManifestFetch> fetch_once(UpstreamTarget target, std::string reference,
                                             std::string accept,
                                             std::optional<store::Digest> expected,
                                             std::optional<store::TagKey> tag,
                                             std::string& outcome);
    net::awaitable<TagCheck> check_tag(UpstreamTarget target, std::string reference,
                                       std::string accept, store::TagKey key,
                                       store::TagRecord stored);
    // The answer to a manifest fetch that did not succeed.
    OciError fetch_error(const ManifestFetch& fetched, std::size_t upstream) const;
    // Revalidates a stale tag in the background (owned by the fetcher), once per tag at a time.
    void revalidate_in_background(const UpstreamTarget& target, const std::string& tag,
                                  const std::string& accept, const store::TagKey& key,
                                  const store::TagRecord& record);
    net::awaitable<void> revalidate(UpstreamTarget target, std::string tag, std::string accept,
                                    store::TagKey key, store::TagRecord record, std::string flight);
    // The negative cache of tags: whether `key` had a 404 less than negative_ttl ago, and
    // recording one.
    bool known_missing(const store::TagKey& key, std::size_t upstream);
    void remember_missing(const store::TagKey& key, std::size_t upstream);
    bool circuit_open(std::size_t upstream) const;
    // A stored copy served, counted as `outcome` (hit or stale).
    ManifestAnswer cached(const UpstreamTarget& target, ManifestPtr manifest, const char* outcome);
    // The tag's record, from the in-memory copies or the store (then copied in); an error when
    // the store failed.
    struct TagPointer {
        store::Digest digest;
        std::int64_t fetched_at = 0;  // unix seconds
    };
    cache::result<std::optional<TagPointer>> find_tag(const store::TagKey& key);
    // Points the tag at `record` in the store and, once stored, in the in-memory copies.
    // (By value: the coroutine starts when awaited, after the caller's temporaries are gone.)
    net::awaitable<bool> put_tag(store::TagKey key, store::TagRecord record);

    const config::Config& m_config;
    cache::Cache& m_cache;
    std::vector<upstream::Client*> m_clients;
    fetch::Fetcher& m_fetcher;
    Metrics& m_metrics;

    // A burst of pulls of one image (a job starting on many nodes) asks for the same manifests
    // at once; each distinct request goes upstream once.
    fetch::SingleFlight<ManifestFetch> m_fetches;
    fetch::SingleFlight<TagCheck> m_tag_checks;

    // Manifests are small and immutable by digest, and a manifest by tag is the most frequent
    // request: decoded copies are kept here so a hit costs one tag lookup. The least recently
    // used go when the bytes pass k_manifest_cache_bytes (the store still has them). Every hit
    // on a copy reaches the cache core like a hit on the store.
    static constexpr std::size_t k_manifest_cache_bytes = 16 * 1024 * 1024;
    std::mutex m_copies_mutex;
    LruCache<store::Digest, ManifestPtr, store::DigestHash> m_copies{
        k_manifest_cache_bytes, [](const ManifestPtr& m) { return m->body.size(); }};
    // The tag records, likewise: every tag is written through put_tag, so these copies are the
    // store's (tags live in envcache's own store alone). Bounded by count; the least recently
    // used go first and are read from the store again when asked for.
    static constexpr std::size_t k_tag_copies = 65536;
    std::mutex m_tags_mutex;
    LruCache<store::TagKey, TagPointer, store::TagKeyHash> m_tags{
        k_tag_copies, [](const TagPointer&) { return std::size_t{1}; }};

    // Tags the upstream said 404 for, to the steady-clock second their entry ends; bounded
    // (k_negative_entries, least recently used dropped first).
    static constexpr std::size_t k_negative_entries = 16384;
    std::mutex m_negative_mutex;
    LruCache<std::string, std::int64_t> m_negative{k_negative_entries,
                                                   [](const std::int64_t&) { return 1; }};

    // Tags being revalidated in the background (stale_while_revalidate).
    std::mutex m_revalidating_mutex;
    std::unordered_set<std::string> m_revalidating;
};

}  // namespace proxy::registry
