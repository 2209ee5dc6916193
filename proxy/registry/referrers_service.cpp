#include "proxy/registry/referrers_service.hpp"

#include "proxy/log.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/registry/referrers_index.hpp"
#include "proxy/upstream/small_answer.hpp"
#include "store/sha256.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;

namespace {

ReferrersAnswer answer_of(std::string index, const std::string& artifact_type,
                          std::string outcome) {
    ReferrersAnswer answer;
    answer.filtered = !artifact_type.empty();
    answer.index = answer.filtered ? filter_referrers(index, artifact_type) : std::move(index);
    answer.outcome = std::move(outcome);
    return answer;
}

}  // namespace

ReferrersService::ReferrersService(const config::Config& config, cache::Cache& cache,
                                   std::vector<upstream::Client*> clients,
                                   ManifestService& manifests, Metrics& metrics)
    : m_config(config),
      m_cache(cache),
      m_clients(std::move(clients)),
      m_manifests(manifests),
      m_metrics(metrics) {}

net::awaitable<ReferrersService::Fetched> ReferrersService::fetch(const UpstreamTarget& target,
                                                                  const store::Digest& subject) {
    Fetched fetched;
    // Unfiltered: the stored answer serves every filter.
    auto request = upstream_request(http::verb::get, target, "referrers/" + subject.str());
    request.headers.set(http::field::accept, k_oci_index);
    auto calling = upstream::fetch_small(*m_clients[target.index], std::move(request),
                                         upstream::k_max_manifest_bytes);
    auto answer = co_await std::move(calling);
    if (!answer || upstream::is_server_error(answer->status)) {
        m_metrics.add(target.index, &Counters::upstream_errors);
        co_return fetched;
    }
    if (answer->status == 200) {
        if (auto index = referrers_index(answer->body)) {
            fetched.source = Source::found;
            fetched.index = std::move(*index);
            co_return fetched;
        }
        log_line("referrers " + target.repo + "@" + subject.str() +
                 ": the upstream's answer is not an index; trying the referrers tag");
    } else if (answer->status != 404) {
        fetched.source = Source::refused;
        fetched.status = answer->status;
        co_return fetched;
    }
    // No referrers API: the referrers tag schema's index, fetched and kept like any tag.
    auto tagged =
        m_manifests.by_tag(target, referrers_tag(subject.str()), std::string(k_oci_index));
    const ManifestAnswer fallback = co_await std::move(tagged);
    fetched.tag_outcome = fallback.outcome;
    if (fallback.manifest) {
        fetched.source = Source::found;
        fetched.index = referrers_index(fallback.manifest->body).value_or(empty_referrers());
    } else if (fallback.error.status == 404) {
        fetched.source = Source::found;
        fetched.index = empty_referrers();
    } else if (upstream::is_server_error(fallback.error.status)) {  // 502: unreachable
        fetched.source = Source::unreachable;
    } else {
        fetched.source = Source::refused;
        fetched.status = fallback.error.status;
    }
    co_return fetched;
}

net::awaitable<void> ReferrersService::keep(const UpstreamTarget& target,
                                            const cache::ReferrersKey& key,
                                            const std::string& index) {
    const Manifest manifest{index, std::string(k_oci_index), store::Sha256::of(index), {}};
    auto storing = m_manifests.store_manifest(target, manifest);
    co_await std::move(storing);
    auto recording = m_cache.on_records([this, key, digest = manifest.digest] {
        return cache::put_referrers(m_cache.store(), key, {digest, now_seconds()});
    });
    if (auto put = co_await std::move(recording); !put)
        m_metrics.add(target.index, &Counters::store_errors);
}

net::awaitable<ReferrersAnswer> ReferrersService::list(UpstreamTarget target, store::Digest subject,
                                                       std::string artifact_type) {
    const std::size_t up = target.index;
    const cache::ReferrersKey key{subject, m_config.upstreams[up].name, target.repo};
    ManifestPtr stored;
    std::int64_t fetched_at = 0;
    if (auto record = cache::get_referrers(m_cache.store(), key); !record) {
        m_metrics.add(up, &Counters::store_errors);
    } else if (*record) {
        stored = m_manifests.load((*record)->index);
        fetched_at = (*record)->fetched_at;
    }
    if (stored && now_seconds() - fetched_at < m_config.upstreams[up].tag_ttl.count()) {
        m_metrics.add(up, &Counters::hits);
        co_return answer_of(stored->body, artifact_type, "hit");
    }
    auto fetching = fetch(target, subject);
    Fetched fetched = co_await std::move(fetching);
    switch (fetched.source) {
        case Source::found: {
            if (fetched.tag_outcome.empty()) m_metrics.add(up, &Counters::misses);
            // A stale copy of the referrers tag (upstream down) leaves the record as it was.
            if (fetched.tag_outcome != "stale") {
                auto keeping = keep(target, key, fetched.index);
                co_await std::move(keeping);
            }
            const std::string outcome =
                fetched.tag_outcome.empty() ? std::string("miss") : fetched.tag_outcome;
            co_return answer_of(std::move(fetched.index), artifact_type, outcome);
        }
        case Source::refused: {
            ReferrersAnswer answer;
            answer.error = from_upstream_status(fetched.status);
            co_return answer;
        }
        case Source::unreachable:
            break;
    }
    if (stored) {
        // Offline: the referrers last seen, so verification still finds the signatures.
        log_line("referrers " + target.repo + "@" + subject.str() +
                 ": upstream unavailable, serving the stored answer");
        m_metrics.add(up, &Counters::stale);
        co_return answer_of(stored->body, artifact_type, "stale");
    }
    // Never an empty index here: it would tell a verifier the image is unsigned.
    ReferrersAnswer answer;
    answer.error = upstream_unavailable("and no referrers of this digest are stored");
    co_return answer;
}

}  // namespace proxy::registry
