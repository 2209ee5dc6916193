#pragma once
// The referrers API (GET /v2/<name>/referrers/<digest>), decided as a value. The answer is the
// upstream's referrers answer when it has the API; when it answers 404 (docker-registry 2.8 and
// many registries in use), the index the referrers tag schema keeps under the `sha256-<hex>`
// tag, so the signatures and SBOMs signing tools put there are listed; nothing there is an empty
// index. Either way the answer is stored (the index as a manifest, with refs to the referrers,
// so a pin of the subject protects them) and reused while younger than the upstream's tag_ttl,
// and served stale while the upstream is out of reach.

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "cache/referrer_records.hpp"
#include "config/config.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/manifest_service.hpp"
#include "proxy/registry/oci_error.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

namespace net = boost::asio;

// The index to send (with `filtered` when an artifactType filter was applied), or the error.
struct ReferrersAnswer {
    std::optional<std::string> index;
    bool filtered = false;
    OciError error;
    std::string outcome = "-";  // hit | miss | stale (the access log's)
};

class ReferrersService {
  public:
    // `clients[i]` talks to config.upstreams[i]. Everything passed must outlive the service.
    ReferrersService(const config::Config& config, cache::Cache& cache,
                     std::vector<upstream::Client*> clients, ManifestService& manifests,
                     Metrics& metrics);

    // The referrers of `subject`, only those of `artifact_type` when it is not empty.
    net::awaitable<ReferrersAnswer> list(UpstreamTarget target, store::Digest subject,
                                         std::string artifact_type);

  private:
    enum class Source { found, unreachable, refused };
    struct Fetched {
        Source source = Source::unreachable;
        std::string index;    // when found
        unsigned status = 0;  // when refused: the upstream's status
        // When found through the referrers tag, the manifest service's outcome (it counted it).
        std::string tag_outcome;
    };
    // Asks the upstream: its referrers API, else the referrers tag schema.
    net::awaitable<Fetched> fetch(const UpstreamTarget& target, const store::Digest& subject);
    // Stores the answer and the record that finds it.
    net::awaitable<void> keep(const UpstreamTarget& target, const cache::ReferrersKey& key,
                              const std::string& index);

    const config::Config& m_config;
    cache::Cache& m_cache;
    std::vector<upstream::Client*> m_clients;
    ManifestService& m_manifests;
    Metrics& m_metrics;
};

}  // namespace proxy::registry
