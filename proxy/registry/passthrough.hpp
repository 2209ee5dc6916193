#pragma once
// Pass-through authorization for the upstreams with `access: passthrough`: the upstream itself
// decides who reads. A caller's credentials are checked with a HEAD for the repository (one at a
// time per key; the answer remembered per upstream, repository and credential hash), and a
// digest is served from the store for repository R only once the upstream let this caller read
// it under R or it belongs to a manifest served under R. Membership is kept in the store
// (cache/membership_records.hpp), with an in-memory copy in front: a digest stays guarded across
// restarts.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "cache/cache.hpp"
#include "config/config.hpp"
#include "proxy/access/decisions.hpp"
#include "proxy/access/membership.hpp"
#include "proxy/fetch/single_flight.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/upstream/upstream_client.hpp"
#include "store/digest.hpp"

namespace proxy::registry {

namespace net = boost::asio;

class PassThrough {
  public:
    enum class Verdict {
        allowed,      // the caller may read (the object may still be missing: `missing`)
        denied,       // 401 or 403 upstream: `challenge` holds what to answer a 401 with
        unreachable,  // no answer: fail closed
    };
    struct Check {
        Verdict verdict = Verdict::unreachable;
        unsigned status = 0;    // the upstream's status for a denial (401 or 403)
        bool missing = false;   // allowed, but the object asked for is not there (404)
        std::string challenge;  // WWW-Authenticate for a 401, the upstream's realm and service
    };

    // `clients[i]` talks to config.upstreams[i]; membership is kept in `cache`'s store.
    PassThrough(const config::Config& config, std::vector<upstream::Client*> clients,
                cache::Cache& cache);

    // May target.caller_authorization read target.repo? Asked with a manifest HEAD of
    // `reference` (a tag or digest) unless a decision for the key is remembered.
    net::awaitable<Check> check_repository(UpstreamTarget target, std::string reference);

    // May the caller have `digest` from target.repo (a blob, or a manifest when `manifest`)?
    // Yes without asking when the repository decision is a yes and the digest is a member of
    // the repository; else a HEAD of the object itself.
    net::awaitable<Check> check_digest(UpstreamTarget target, store::Digest digest, bool manifest);

    // A manifest served under target.repo: it and what it refers to become members (written
    // to the store before this returns; a failed write is logged, the members are kept in
    // memory all the same).
    net::awaitable<void> served_manifest(UpstreamTarget target, store::Digest digest,
                                         std::string body);

    // What upstream `index` answers an unauthenticated `GET /v2/` with, as the challenge to
    // relay (see relayed_challenge); nullopt when it asks for none or cannot be reached.
    net::awaitable<std::optional<std::string>> challenge(std::size_t index);

    // A digest a passthrough upstream guards, asked for through a shared upstream: is it there
    // too? (A HEAD with envcache's credentials; no answer is a no.)
    net::awaitable<bool> shared_has(UpstreamTarget target, store::Digest digest, bool manifest);
    // Some upstream is passthrough: only then can a digest be guarded, and shared_has matter.
    bool guards_any() const { return m_guards_any; }

    // Upstream HEADs made to decide (for tests and stats).
    std::uint64_t checks() const { return m_checks.load(); }

  private:
    net::awaitable<Check> ask(UpstreamTarget target, std::string path, std::string key,
                              bool repository_wide);
    // Membership: the in-memory copy, then the store. A store that cannot be read answers
    // "not a member" and "guarded", so the upstream is asked.
    bool is_member(const UpstreamTarget& target, const store::Digest& digest);
    bool is_guarded(const store::Digest& digest);
    net::awaitable<void> add_members(UpstreamTarget target, std::vector<store::Digest> digests);

    const config::Config& m_config;
    std::vector<upstream::Client*> m_clients;
    cache::Cache& m_cache;
    bool m_guards_any = false;
    access::Decisions m_decisions;
    access::Membership m_members;
    fetch::SingleFlight<Check> m_flights;
    std::atomic<std::uint64_t> m_checks = 0;
};

// The challenge to relay for an upstream's WWW-Authenticate value: its Bearer realm, service and
// scope, or Basic; a plain Basic challenge when the value cannot be parsed.
std::string relayed_challenge(std::string_view upstream_value, std::string_view upstream_name);

}  // namespace proxy::registry
