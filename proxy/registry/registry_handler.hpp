#pragma once
// The OCI Distribution pull API (/v2/...): manifests, blobs, tags, referrers, served from the
// store, fetched from the chosen upstream on a miss.

#include <cstddef>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "config/config.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/manifest_service.hpp"
#include "proxy/registry/referrers_service.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

namespace net = boost::asio;

class RegistryHandler {
  public:
    // `clients[i]` talks to config.upstreams[i]. Everything passed must outlive the handler.
    RegistryHandler(const config::Config& config, cache::Cache& cache,
                    std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                    Metrics& metrics);

    // Answers one request whose target starts with "/v2".
    net::awaitable<void> handle(server::Exchange& ex);

  private:
    net::awaitable<void> handle_manifest(server::Exchange& ex, const Route& route,
                                         const UpstreamTarget& target);
    net::awaitable<void> handle_blob(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target);
    net::awaitable<void> handle_tags(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target, std::string_view query);
    net::awaitable<void> handle_referrers(server::Exchange& ex, const Route& route,
                                          const UpstreamTarget& target, std::string_view query);

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
    ManifestService m_manifests;
    ReferrersService m_referrers;
};

}  // namespace proxy::registry
