#pragma once
// The OCI Distribution pull API (/v2/...): manifests, blobs, tags, referrers, served from the
// store, fetched from the chosen upstream on a miss.

#include <cstddef>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "config/config.hpp"
#include "proxy/access/identities.hpp"
#include "proxy/access/policy.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/manifest_service.hpp"
#include "proxy/registry/passthrough.hpp"
#include "proxy/registry/referrers_service.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::registry {

namespace net = boost::asio;

// Who may pull: the caller's identity and the rules of the access section.
struct PullAccess {
    const access::Policy& policy;
    access::Identities& identities;
    std::string realm_scheme = "http";  // of the token endpoint named in challenges
};

// The challenge envcache answers a 401 with when it asks for its own credentials: its token
// endpoint (/auth/token on the host the client asked) when identities are configured.
std::string own_challenge(const server::Exchange& ex, const PullAccess& access);

class RegistryHandler {
  public:
    // `clients[i]` talks to config.upstreams[i]. Everything passed must outlive the handler.
    // Without `access` everyone may pull from the shared upstreams.
    RegistryHandler(const config::Config& config, cache::Cache& cache,
                    std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                    Metrics& metrics, const PullAccess* access = nullptr);

    // Answers one request whose target starts with "/v2".
    net::awaitable<void> handle(server::Exchange& ex);

    // Upstream HEADs that pass-through authorization made.
    std::uint64_t passthrough_checks() const { return m_passthrough.checks(); }

  private:
    // A request decided as far as it goes without I/O: an answer to send at once, or the route
    // and upstream to serve it from.
    struct Admission {
        enum class Next {
            serve,         // `route` from `target`
            error,         // `error` (a 405 with its Allow header)
            unauthorized,  // 401 with `challenge`
            ping_relay,    // 401 with upstream `relay`'s challenge, else `challenge`
            ping,          // /v2/: 200 and {}
        };
        Next next = Next::serve;
        OciError error;
        std::string challenge;
        std::size_t relay = 0;
        Route route;
        UpstreamTarget target;
    };
    // Parses the request, identifies the caller (setting ex.identity) and checks what needs no
    // upstream.
    Admission admit(server::Exchange& ex) const;
    net::awaitable<void> answer_at_once(server::Exchange& ex, Admission& admission);
    // A shared upstream's blob or manifest by digest that a passthrough upstream may guard: the
    // caller may have it, or a 404 is sent (false).
    net::awaitable<bool> admit_shared(server::Exchange& ex, const Route& route,
                                      const UpstreamTarget& target);

    net::awaitable<void> handle_manifest(server::Exchange& ex, const Route& route,
                                         const UpstreamTarget& target);
    net::awaitable<void> handle_blob(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target);
    net::awaitable<void> handle_tags(server::Exchange& ex, const Route& route,
                                     const UpstreamTarget& target, std::string_view query);
    net::awaitable<void> handle_referrers(server::Exchange& ex, const Route& route,
                                          const UpstreamTarget& target, std::string_view query);

    // A blob the cache has: from its hot copy when `hot` is set (sendfile, or with the head
    // when it is kept inline), else chunk by chunk from the store under the caller's lease.
    net::awaitable<void> serve_stored_blob(server::Exchange& ex, const store::Digest& digest,
                                           std::uint64_t size, const std::string& media_type,
                                           std::size_t upstream, const cache::HotBlob* hot);
    net::awaitable<void> serve_fetch(server::Exchange& ex, const store::Digest& digest,
                                     const fetch::Joined& joined, std::size_t upstream);

    const config::Config& m_config;
    cache::Cache& m_cache;
    std::vector<upstream::Client*> m_clients;
    fetch::Fetcher& m_fetcher;
    // A passthrough target: the upstream's answer allows the request, or the refusal is sent
    // (false).
    net::awaitable<bool> admit_passthrough(server::Exchange& ex, const Route& route,
                                           const UpstreamTarget& target);

    Metrics& m_metrics;
    ManifestService m_manifests;
    ReferrersService m_referrers;
    const PullAccess* m_access;
    PassThrough m_passthrough;
};

}  // namespace proxy::registry
