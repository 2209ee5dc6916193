#include "proxy/registry/passthrough.hpp"

#include <algorithm>

#include "cache/membership_records.hpp"
#include "proxy/log.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/upstream/auth_challenge.hpp"
#include "proxy/upstream/small_answer.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;

namespace {

std::string quoted_value(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::string relayed_challenge(std::string_view upstream_value, std::string_view upstream_name) {
    const auto parsed = upstream::parse_auth_challenge(upstream_value);
    if (!parsed || parsed->scheme == upstream::AuthChallenge::Scheme::basic)
        return "Basic realm=" + quoted_value(upstream_name);
    std::string out = "Bearer realm=" + quoted_value(parsed->realm);
    if (!parsed->service.empty()) out += ",service=" + quoted_value(parsed->service);
    if (!parsed->scope.empty()) out += ",scope=" + quoted_value(parsed->scope);
    return out;
}

PassThrough::PassThrough(const config::Config& config, std::vector<upstream::Client*> clients,
                         cache::Cache& cache)
    : m_config(config),
      m_clients(std::move(clients)),
      m_cache(cache),
      m_guards_any(std::ranges::any_of(config.upstreams, [](const config::UpstreamConfig& u) {
          return u.access == config::UpstreamConfig::Access::passthrough;
      })) {}

bool PassThrough::is_member(const UpstreamTarget& target, const store::Digest& digest) {
    if (m_members.contains(target.index, target.repo, digest)) return true;
    const auto stored = cache::is_member(
        m_cache.store(), {digest, m_config.upstreams[target.index].name, target.repo});
    if (!stored || !*stored) return false;
    m_members.add(target.index, target.repo, digest, {});
    return true;
}

bool PassThrough::is_guarded(const store::Digest& digest) {
    if (m_members.guarded(digest)) return true;
    const auto stored = cache::is_guarded(m_cache.store(), digest);
    return !stored || *stored;
}

net::awaitable<void> PassThrough::add_members(UpstreamTarget target,
                                              std::vector<store::Digest> digests) {
    std::vector<cache::MemberKey> fresh;
    for (const auto& digest : digests)
        if (!m_members.contains(target.index, target.repo, digest))
            fresh.push_back({digest, m_config.upstreams[target.index].name, target.repo});
    if (fresh.empty()) co_return;
    // In memory first: guarded from now on, not only once the write is committed.
    for (const auto& key : fresh)
        m_members.add(target.index, target.repo, key.digest, {});
    auto writing = m_cache.on_records([&store = m_cache.store(), fresh] {
        boost::system::result<void> out;
        for (const auto& key : fresh) {
            const auto known = cache::is_member(store, key);
            if (known && *known) continue;
            if (auto put = cache::put_member(store, key); !put) out = put.error();
        }
        return out;
    });
    if (auto written = co_await std::move(writing); !written)
        log_line("membership in " + m_config.upstreams[target.index].name + "/" + target.repo +
                 ": not stored: " + written.error().message());
}

net::awaitable<PassThrough::Check> PassThrough::ask(UpstreamTarget target, std::string path,
                                                    std::string key, bool repository_wide) {
    const auto& upstream_config = m_config.upstreams[target.index];
    const auto now = access::Decisions::Clock::now();
    if (const auto known = m_decisions.find(key, now)) {
        Check check;
        check.verdict = known->allowed ? Verdict::allowed : Verdict::denied;
        check.status = known->allowed ? 200 : (known->challenge.empty() ? 403 : 401);
        check.challenge = known->challenge;
        co_return check;
    }
    auto deciding = m_flights.run(
        key,
        [this, target, path, key, repository_wide, &upstream_config]() -> net::awaitable<Check> {
            // The flight that ran just before may have left the answer.
            if (const auto known = m_decisions.find(key, access::Decisions::Clock::now())) {
                Check check;
                check.verdict = known->allowed ? Verdict::allowed : Verdict::denied;
                check.status = known->allowed ? 200 : (known->challenge.empty() ? 403 : 401);
                check.challenge = known->challenge;
                co_return check;
            }
            auto request = upstream_request(http::verb::head, target, path);
            request.headers.set(http::field::accept, all_manifest_types());
            ++m_checks;
            auto answer = co_await upstream::fetch_small(*m_clients[target.index], request, 0);
            Check check;
            if (!answer || upstream::is_server_error(answer->status)) co_return check;
            const unsigned status = answer->status;
            const auto when = access::Decisions::Clock::now();
            if (status == 401 || status == 403) {
                check.verdict = Verdict::denied;
                check.status = status;
                if (status == 401)
                    check.challenge = relayed_challenge(
                        upstream::joined_header(answer->headers, http::field::www_authenticate),
                        upstream_config.name);
                m_decisions.remember(key, {false, check.challenge}, upstream_config.denial_ttl,
                                     when);
                co_return check;
            }
            check.verdict = Verdict::allowed;
            check.missing = status == 404;
            // A 404 says the credentials are good for the repository, not that the object is there.
            if (repository_wide || !check.missing)
                m_decisions.remember(key, {true, {}}, upstream_config.decision_ttl, when);
            co_return check;
        });
    auto outcome = co_await std::move(deciding);
    co_return outcome.value;
}

net::awaitable<PassThrough::Check> PassThrough::check_repository(UpstreamTarget target,
                                                                 std::string reference) {
    const std::string authorization = target.caller_authorization.value_or("");
    std::string key = access::Decisions::key(target.index, target.repo, authorization);
    auto asking = ask(target, "manifests/" + reference, std::move(key), true);
    co_return co_await std::move(asking);
}

net::awaitable<PassThrough::Check> PassThrough::check_digest(UpstreamTarget target,
                                                             store::Digest digest, bool manifest) {
    const std::string authorization = target.caller_authorization.value_or("");
    const std::string repo_key = access::Decisions::key(target.index, target.repo, authorization);
    if (is_member(target, digest)) {
        if (const auto known = m_decisions.find(repo_key, access::Decisions::Clock::now());
            known && known->allowed) {
            Check check;
            check.verdict = Verdict::allowed;
            check.status = 200;
            co_return check;
        }
    }
    std::string key =
        access::Decisions::key(target.index, target.repo + "@" + digest.str(), authorization);
    const std::string path = (manifest ? "manifests/" : "blobs/") + digest.str();
    auto asking = ask(target, path, std::move(key), false);
    Check check = co_await std::move(asking);
    if (check.verdict == Verdict::allowed && !check.missing) {
        // The upstream let this caller read the digest under the repository.
        auto adding = add_members(target, {digest});
        co_await std::move(adding);
        m_decisions.remember(repo_key, {true, {}}, m_config.upstreams[target.index].decision_ttl,
                             access::Decisions::Clock::now());
    }
    co_return check;
}

net::awaitable<std::optional<std::string>> PassThrough::challenge(std::size_t index) {
    upstream::Request request;
    request.method = http::verb::get;
    request.target = "/v2/";
    request.caller_authorization = "";
    auto answer = co_await upstream::fetch_small(*m_clients[index], request, 64 * 1024);
    if (!answer || answer->status != 401) co_return std::nullopt;
    co_return relayed_challenge(
        upstream::joined_header(answer->headers, http::field::www_authenticate),
        m_config.upstreams[index].name);
}

net::awaitable<bool> PassThrough::shared_has(UpstreamTarget target, store::Digest digest,
                                             bool manifest) {
    if (!is_guarded(digest)) co_return true;
    auto request = upstream_request(http::verb::head, target,
                                    (manifest ? "manifests/" : "blobs/") + digest.str());
    request.headers.set(http::field::accept, all_manifest_types());
    ++m_checks;
    auto answer = co_await upstream::fetch_small(*m_clients[target.index], request, 0);
    co_return answer && answer->status == 200;
}

net::awaitable<void> PassThrough::served_manifest(UpstreamTarget target, store::Digest digest,
                                                  std::string body) {
    std::vector<store::Digest> members{digest};
    if (const auto refs = parse_manifest_refs(body))
        members.insert(members.end(), refs->children.begin(), refs->children.end());
    auto adding = add_members(std::move(target), std::move(members));
    co_await std::move(adding);
}

}  // namespace proxy::registry
