#pragma once
// The OCI Distribution pull API (/v2/...): manifests, blobs, tags, referrers, served from the
// store, fetched from the chosen upstream on a miss.

#include <cstddef>
#include <mutex>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "config/config.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/fetch/single_flight.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/lru_cache.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

namespace net = boost::asio;

inline constexpr std::size_t k_max_manifest_bytes = 4 * 1024 * 1024;

class RegistryHandler {
  public:
    // `clients[i]` talks to config.upstreams[i]. Everything passed must outlive the handler.
    RegistryHandler(const config::Config& config, cache::Cache& cache,
                    std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                    Metrics& metrics);

    // Answers one request whose target starts with "/v2".
    net::awaitable<void> handle(server::Exchange& ex);

  private:
    struct Manifest {
        std::string body;
        std::string media_type;
        store::Digest digest;
    };
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

    net::awaitable<void> handle_manifest(server::Exchange& ex, const Route& route,
                                         const UpstreamTarget& target);
    net::awaitable<void> handle_blob(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target);
    net::awaitable<void> handle_tags(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target, std::string_view query);
    net::awaitable<void> handle_referrers(server::Exchange& ex, const Route& route,
                                          const UpstreamTarget& target, std::string_view query);

    // The stored manifest, from the in-memory copies or the store; a found one counts as a hit.
    std::optional<Manifest> load_manifest(const store::Digest& digest);
    // Fetches a manifest, stores it and, given `tag`, points that tag at it. Concurrent calls
    // for the same manifest share one upstream request (see fetch_for).
    net::awaitable<ManifestFetch> fetch_manifest(const UpstreamTarget& target,
                                                 std::string reference, std::string accept,
                                                 std::optional<store::Digest> expected,
                                                 std::optional<store::TagKey> tag);
    // The answer to a manifest fetch that did not succeed.
    static OciError fetch_error(const ManifestFetch& fetched);
    // fetch_manifest through the single flight, recording the request's outcome (miss or
    // coalesced).
    net::awaitable<ManifestFetch> fetch_for(server::Exchange& ex, const UpstreamTarget& target,
                                            std::string reference, std::string accept,
                                            std::optional<store::Digest> expected,
                                            std::optional<store::TagKey> tag);
    net::awaitable<TagCheck> check_tag(const UpstreamTarget& target, std::string reference,
                                       std::string accept, store::TagKey key,
                                       store::TagRecord stored);
    net::awaitable<void> store_manifest(const UpstreamTarget& target, const Manifest& manifest);
    net::awaitable<void> send_manifest(server::Exchange& ex, const Manifest& manifest);

    net::awaitable<void> serve_stored_blob(server::Exchange& ex, const store::Digest& digest,
                                           const store::BlobInfo& info, std::size_t upstream);
    net::awaitable<void> serve_fetch(server::Exchange& ex, const store::Digest& digest,
                                     const fetch::Joined& joined, std::size_t upstream);

    const config::Config& m_config;
    cache::Cache& m_cache;
    std::vector<upstream::Client*> m_clients;
    fetch::Fetcher& m_fetcher;
    Metrics& m_metrics;

    // A burst of pulls of one image (a job starting on many nodes) asks for the same manifests
    // at once; each distinct request goes upstream once.
    fetch::SingleFlight<ManifestFetch> m_manifest_fetches;
    fetch::SingleFlight<TagCheck> m_tag_checks;

    // Manifests are small and immutable by digest, and a manifest by tag is the most frequent
    // request: decoded copies are kept here so a hit costs one tag lookup. The least recently
    // used go when the bytes pass k_manifest_cache_bytes (the store still has them).
    static constexpr std::size_t k_manifest_cache_bytes = 16 * 1024 * 1024;
    std::mutex m_manifest_cache_mutex;
    LruCache<store::Digest, Manifest, store::DigestHash> m_manifest_cache{
        k_manifest_cache_bytes, [](const Manifest& m) { return m.body.size(); }};
};

}  // namespace proxy::registry
