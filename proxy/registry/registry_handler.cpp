#include "proxy/registry/registry_handler.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/buffer.hpp>
#include <boost/json.hpp>

#include "proxy/log.hpp"
#include "proxy/registry/blob_response.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/registry/reference.hpp"
#include "proxy/registry/tags_page.hpp"
#include "proxy/upstream/small_answer.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;
using server::Exchange;

namespace {

constexpr std::size_t k_stream_buffer = 256 * 1024;

}  // namespace

RegistryHandler::RegistryHandler(const config::Config& config, cache::Cache& cache,
                                 std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                                 Metrics& metrics, const PullAccess* access)
    : m_config(config),
      m_cache(cache),
      m_clients(std::move(clients)),
      m_fetcher(fetcher),
      m_metrics(metrics),
      m_manifests(config, cache, m_clients, fetcher, metrics),
      m_referrers(config, cache, m_clients, m_manifests, metrics),
      m_access(access),
      m_passthrough(config, m_clients, cache) {}

std::string own_challenge(const server::Exchange& ex, const PullAccess& access) {
    if (!access.identities.enabled()) return "Basic realm=\"envcache\"";
    std::string host(ex.request[http::field::host]);
    if (host.empty() || host.find_first_of("\"\\ ") != std::string::npos) host = "localhost";
    return "Bearer realm=\"" + access.realm_scheme + "://" + host +
           "/auth/token\",service=\"envcache\"";
}

namespace {

net::awaitable<void> send_unauthorized(Exchange& ex, const std::string& challenge) {
    http::fields headers;
    headers.set(http::field::www_authenticate, challenge);
    const OciError error = from_upstream_status(401);
    co_await server::send_error(ex, error, headers);
}

}  // namespace

net::awaitable<bool> RegistryHandler::admit_passthrough(Exchange& ex, const Route& route,
                                                        const UpstreamTarget& target) {
    PassThrough::Check check;
    if (route.endpoint == Endpoint::blob ||
        (route.endpoint == Endpoint::manifest && route.reference_is_digest)) {
        auto checking = m_passthrough.check_digest(target, *store::Digest::parse(route.reference),
                                                   route.endpoint == Endpoint::manifest);
        check = co_await std::move(checking);
    } else if (route.endpoint == Endpoint::manifest) {
        auto checking = m_passthrough.check_repository(target, route.reference);
        check = co_await std::move(checking);
    } else {
        co_return true;  // tags and referrers: asked upstream with the caller's credentials
    }
    switch (check.verdict) {
        case PassThrough::Verdict::allowed:
            if (check.missing && route.endpoint != Endpoint::manifest) {
                const OciError error = blob_unknown();
                co_await server::send_error(ex, error);
                co_return false;
            }
            co_return true;
        case PassThrough::Verdict::denied:
            if (check.status == 401) {
                co_await send_unauthorized(ex, check.challenge);
            } else {
                const OciError error = from_upstream_status(403);
                co_await server::send_error(ex, error);
            }
            co_return false;
        case PassThrough::Verdict::unreachable:
            break;
    }
    m_metrics.add(target.index, &Counters::upstream_errors);
    const OciError error = upstream_unavailable("cannot check access with the upstream");
    co_await server::send_error(ex, error);
    co_return false;
}

namespace {

// The query of a request target: what follows its '?', if anything.
std::string_view query_of(std::string_view target) {
    const std::size_t qmark = target.find('?');
    return qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
}

}  // namespace

RegistryHandler::Admission RegistryHandler::admit(Exchange& ex) const {
    const auto refuse = [](OciError error) {
        Admission refusal;
        refusal.next = Admission::Next::error;
        refusal.error = std::move(error);
        return refusal;
    };
    const std::string_view target = ex.request.target();
    const auto path = decode_path(target.substr(0, target.find('?')));
    if (!path || path->size() > 4096) return refuse(bad_request());
    auto parsed = parse_route(ex.request.method(), *path);
    if (auto* error = std::get_if<OciError>(&parsed)) return refuse(std::move(*error));
    Admission admission;
    admission.route = std::move(std::get<Route>(parsed));
    const Route& route = admission.route;
    const std::string authorization(ex.request[http::field::authorization]);
    access::Caller caller;
    const bool checking = m_access && m_access->policy.enabled();
    if (m_access) {
        caller = m_access->identities.identify(authorization, ex.client_cert_names,
                                               access::Identities::Clock::now());
        if (caller.identified()) ex.identity = caller.name;
    }
    const config::UpstreamConfig* fallback = m_config.default_upstream();
    const bool default_passthrough =
        fallback && fallback->access == config::UpstreamConfig::Access::passthrough;
    if (route.endpoint == Endpoint::base && m_access && !caller.identified() &&
        (m_access->identities.enabled() || default_passthrough) &&
        !(default_passthrough && !authorization.empty())) {
        // Authentication is on: the ping tells the client where to get credentials (from the
        // default upstream itself when it decides).
        admission.challenge = own_challenge(ex, *m_access);
        admission.next = Admission::Next::unauthorized;
        if (default_passthrough && !m_access->identities.enabled()) {
            admission.next = Admission::Next::ping_relay;
            admission.relay = static_cast<std::size_t>(fallback - m_config.upstreams.data());
        }
        return admission;
    }
    if (route.endpoint == Endpoint::base) {
        admission.next = Admission::Next::ping;
        return admission;
    }
    auto selected =
        select_upstream(m_config.upstreams, query_param(query_of(target), "ns"), route.name);
    if (auto* error = std::get_if<OciError>(&selected)) return refuse(std::move(*error));
    admission.target = std::move(std::get<UpstreamTarget>(selected));
    const UpstreamTarget& up = admission.target;
    if (!is_valid_name(up.repo)) return refuse(name_invalid());
    const auto& upstream_config = m_config.upstreams[up.index];
    if (upstream_config.access == config::UpstreamConfig::Access::passthrough) {
        // The upstream decides, with the caller's own credentials; envcache's are never used.
        admission.target.caller_authorization = authorization;
    } else if (checking && (caller.kind == access::Caller::Kind::refused ||
                            !m_access->policy.may_pull(caller, upstream_config.name, up.repo))) {
        if (caller.identified()) return refuse(from_upstream_status(403));
        admission.next = Admission::Next::unauthorized;
        admission.challenge = own_challenge(ex, *m_access);
    }
    return admission;
}

net::awaitable<void> RegistryHandler::answer_at_once(Exchange& ex, Admission& admission) {
    switch (admission.next) {
        case Admission::Next::serve:
            break;
        case Admission::Next::error: {
            http::fields headers;
            if (admission.error.status == 405) headers.set(http::field::allow, "GET, HEAD");
            co_await server::send_error(ex, admission.error, headers);
            break;
        }
        case Admission::Next::ping_relay: {
            auto asking = m_passthrough.challenge(admission.relay);
            if (auto relayed = co_await std::move(asking))
                admission.challenge = std::move(*relayed);
            co_await send_unauthorized(ex, admission.challenge);
            break;
        }
        case Admission::Next::unauthorized:
            co_await send_unauthorized(ex, admission.challenge);
            break;
        case Admission::Next::ping: {
            http::fields headers;
            headers.set("Docker-Distribution-API-Version", "registry/2.0");
            headers.set(http::field::content_type, "application/json");
            co_await server::send_response(ex, http::status::ok, headers, "{}");
            break;
        }
    }
}

net::awaitable<bool> RegistryHandler::admit_shared(Exchange& ex, const Route& route,
                                                   const UpstreamTarget& target) {
    const bool manifest = route.endpoint == Endpoint::manifest;
    auto asking =
        m_passthrough.shared_has(target, *store::Digest::parse(route.reference), manifest);
    if (co_await std::move(asking)) co_return true;
    const OciError error = manifest ? manifest_unknown() : blob_unknown();
    co_await server::send_error(ex, error);
    co_return false;
}

// Its frame is kept small (under the 1 KiB that Asio recycles per thread): what is decided
// without I/O is decided in admit(), the rare answers are sent by answer_at_once().
net::awaitable<void> RegistryHandler::handle(Exchange& ex) {
    Admission admission = admit(ex);
    if (admission.next != Admission::Next::serve) {
        auto answering = answer_at_once(ex, admission);
        co_await std::move(answering);
        co_return;
    }
    const Route& route = admission.route;
    const UpstreamTarget& up = admission.target;
    if (up.caller_authorization) {
        auto admitting = admit_passthrough(ex, route, up);
        if (!co_await std::move(admitting)) co_return;
    } else if (m_passthrough.guards_any() &&
               (route.endpoint == Endpoint::blob ||
                (route.endpoint == Endpoint::manifest && route.reference_is_digest))) {
        // A shared upstream's blob or manifest by digest, when a passthrough upstream may guard
        // it.
        auto admitting = admit_shared(ex, route, up);
        if (!co_await std::move(admitting)) co_return;
    }
    switch (route.endpoint) {
        case Endpoint::manifest:
            co_await handle_manifest(ex, route, up);
            break;
        case Endpoint::blob:
            co_await handle_blob(ex, route, up);
            break;
        case Endpoint::tags_list:
            co_await handle_tags(ex, route, up, query_of(ex.request.target()));
            break;
        case Endpoint::referrers:
            co_await handle_referrers(ex, route, up, query_of(ex.request.target()));
            break;
        case Endpoint::base:
            break;
    }
}

// ---- manifests ----

net::awaitable<void> RegistryHandler::handle_manifest(Exchange& ex, const Route& route,
                                                      const UpstreamTarget& target) {
    std::string accept = upstream::joined_header(ex.request, http::field::accept);
    ManifestAnswer answer;
    if (route.reference_is_digest) {
        auto answering =
            m_manifests.by_digest(target, *store::Digest::parse(route.reference), accept);
        answer = co_await std::move(answering);
    } else {
        auto answering = m_manifests.by_tag(target, route.reference, accept);
        answer = co_await std::move(answering);
    }
    ex.outcome = answer.outcome;
    if (answer.manifest) {
        if (target.caller_authorization) {
            auto adding = m_passthrough.served_manifest(target, answer.manifest->digest,
                                                        answer.manifest->body);
            co_await std::move(adding);
        }
        const Manifest& manifest = *answer.manifest;
        co_await server::send_rendered(ex, http::status::ok, manifest.head_fields, manifest.body);
    } else {
        co_await server::send_error(ex, answer.error);
    }
}

// ---- blobs ----

net::awaitable<void> RegistryHandler::serve_stored_blob(Exchange& ex, const store::Digest& digest,
                                                        std::uint64_t size,
                                                        const std::string& media_type,
                                                        std::size_t up, const cache::HotBlob* hot) {
    http::fields headers = blob_headers(digest, media_type);
    ex.outcome = "hit";
    m_metrics.add(up, &Counters::hits);
    m_cache.record_hit(digest);
    if (ex.is_head()) {
        co_await server::send_head(ex, http::status::ok, headers, size);
        co_return;
    }
    const BlobSlice slice = slice_for(ex.request[http::field::range], size, headers);
    if (slice.status == http::status::range_not_satisfiable) {
        const std::string body = range_error_body();
        co_await server::send_response(ex, slice.status, headers, body);
        co_return;
    }
    const std::uint64_t length = *slice.length;
    const auto status = slice.status;
    // The head goes out with the first chunk: one write for a blob of one chunk.
    server::BodyWriter writer(ex, status, headers, length);
    if (hot) {
        // (Each awaitable is a named local: GCC 12 mishandles temporaries awaited in a branch.)
        const std::uint64_t before = ex.bytes;
        bool sent = false;
        if (hot->holds_file()) {
            auto sending = writer.write_file(hot->fd(), slice.offset, length);
            sent = co_await std::move(sending);
        } else {
            auto sending = writer.write(hot->inline_bytes().substr(slice.offset, length));
            sent = co_await std::move(sending);
        }
        m_metrics.add(up, &Counters::bytes_from_cache, ex.bytes - before);
        if (!sent) co_return;
        auto finishing = writer.finish();
        co_await std::move(finishing);
        co_return;
    }
    store::ChunkBuffer chunk;
    std::uint64_t offset = slice.offset;
    const std::uint64_t end = slice.offset + length;
    while (offset < end) {
        const auto index = static_cast<std::uint32_t>(offset / store::k_chunk_size);
        const std::uint64_t chunk_start = std::uint64_t{index} * store::k_chunk_size;
        if (auto read = m_cache.read_chunk(digest, index, chunk);
            !read || chunk.size() <= offset - chunk_start) {
            m_metrics.add(up, &Counters::store_errors);
            log_line("blob " + digest.str() + ": chunk " + std::to_string(index) +
                     " unreadable; connection aborted");
            server::abort_connection(ex);
            co_return;
        }
        const std::size_t from = static_cast<std::size_t>(offset - chunk_start);
        const std::size_t count =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size() - from, end - offset));
        auto writing = writer.write({chunk.data() + from, count});
        if (!co_await std::move(writing)) co_return;
        m_metrics.add(up, &Counters::bytes_from_cache, count);
        offset += count;
    }
    co_await writer.finish();
}

net::awaitable<void> RegistryHandler::serve_fetch(Exchange& ex, const store::Digest& digest,
                                                  const fetch::Joined& joined, std::size_t up) {
    fetch::Fetch& fetch = *joined.fetch;
    ex.outcome = joined.coalesced ? "coalesced" : "miss";
    m_metrics.add(up, joined.coalesced ? &Counters::coalesced : &Counters::misses);
    fetch::FetchStatus status = co_await fetch.wait(0);
    if (status.state == fetch::FetchState::failed) {
        if (status.spool_failed) {
            const OciError oci_error =
                mirror_unavailable("no spool could be made for the download");
            co_await server::send_error(ex, oci_error);
        } else if (status.upstream_status == 404) {
            const OciError oci_error = blob_unknown();
            co_await server::send_error(ex, oci_error);
        } else if (status.upstream_status == 0) {
            const OciError oci_error = unreachable_error(*m_clients[up]);
            co_await server::send_error(ex, oci_error);
        } else {
            const OciError oci_error = from_upstream_status(status.upstream_status);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    http::fields headers = blob_headers(digest, status.media_type);
    const BlobSlice slice = slice_for(ex.request[http::field::range], status.size, headers);
    if (slice.status == http::status::range_not_satisfiable) {
        const std::string body = range_error_body();
        co_await server::send_response(ex, slice.status, headers, body);
        co_return;
    }
    std::uint64_t offset = slice.offset;
    const std::optional<std::uint64_t> length = slice.length;
    const std::optional<std::uint64_t> end =
        length ? std::optional<std::uint64_t>(offset + *length) : std::nullopt;  // exclusive
    const auto code = slice.status;
    server::BodyWriter writer(ex, code, headers, length);
    auto heading = writer.write_header();
    if (!co_await std::move(heading)) co_return;
    fetch::Fetch::Cursor cursor;
    for (;;) {
        if (end && offset >= *end) break;
        status = co_await fetch.wait(offset);
        if (status.state == fetch::FetchState::failed) {
            server::abort_connection(ex);
            co_return;
        }
        std::uint64_t available = status.sendable();
        if (end) available = std::min(available, *end);
        if (available <= offset) {
            if (status.state == fetch::FetchState::complete) break;
            continue;
        }
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(k_stream_buffer, available - offset));
        auto read = fetch.read(offset, want, cursor);
        if (!read || read->empty()) {
            log_line("blob " + digest.str() + ": download unreadable at " + std::to_string(offset) +
                     (read ? "" : ": " + read.error().message()) + "; connection aborted");
            server::abort_connection(ex);
            co_return;
        }
        auto writing = writer.write(*read);
        if (!co_await std::move(writing)) co_return;
        offset += read->size();
    }
    co_await writer.finish();
}

net::awaitable<void> RegistryHandler::handle_blob(Exchange& ex, const Route& route,
                                                  const UpstreamTarget& target) {
    const auto digest = *store::Digest::parse(route.reference);
    const std::size_t up = target.index;
    if (const auto hot = m_cache.find_hot(digest)) {
        co_await serve_stored_blob(ex, digest, hot->size(), hot->media_type(), up, hot.get());
        co_return;
    }
    // Held until the last byte is written: the evictor never removes a blob under a reader.
    auto leasing = m_cache.lease(digest);
    const cache::Evictor::Lease lease = co_await std::move(leasing);
    if (auto info = m_cache.stat(digest); !info) {
        m_metrics.add(up, &Counters::store_errors);
    } else if (*info) {
        if (!ex.is_head()) std::ignore = m_cache.offer_hot(digest, **info);
        co_await serve_stored_blob(ex, digest, (*info)->size, (*info)->media_type, up, nullptr);
        co_return;
    }
    if (ex.is_head()) {
        // A HEAD of a missing blob asks upstream without downloading it.
        const auto request = upstream_request(http::verb::head, target, "blobs/" + route.reference);
        auto answer = co_await upstream::fetch_small(*m_clients[up], request, 0);
        if (!answer) {
            m_metrics.add(up, &Counters::upstream_errors);
            {
                const OciError oci_error = unreachable_error(*m_clients[up]);
                co_await server::send_error(ex, oci_error);
            }
            co_return;
        }
        if (answer->status != 200) {
            {
                const OciError oci_error =
                    answer->status == 404 ? blob_unknown() : from_upstream_status(answer->status);
                co_await server::send_error(ex, oci_error);
            }
            co_return;
        }
        ex.outcome = "miss";
        const http::fields headers = blob_headers(
            digest, upstream::joined_header(answer->headers, http::field::content_type));
        std::uint64_t length = 0;
        const std::string cl =
            upstream::joined_header(answer->headers, http::field::content_length);
        if (!cl.empty()) length = std::strtoull(cl.c_str(), nullptr, 10);
        co_await server::send_head(ex, http::status::ok, headers, length);
        co_return;
    }
    auto joined =
        m_fetcher.join(digest, {m_clients[up], up, target.repo, target.caller_authorization});
    if (!joined) {
        log_line("blob " + digest.str() + ": cannot start a download: " + joined.error().message());
        {
            const OciError oci_error = mirror_unavailable("cannot start the download");
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    if (!joined->fetch) {  // committed by another download just now
        if (auto info = m_cache.stat(digest); info && *info) {
            co_await serve_stored_blob(ex, digest, (*info)->size, (*info)->media_type, up, nullptr);
            co_return;
        }
        {
            const OciError oci_error = blob_unknown();
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    co_await serve_fetch(ex, digest, *joined, up);
}

// ---- tags and referrers ----

net::awaitable<void> RegistryHandler::handle_tags(Exchange& ex, const Route& route,
                                                  const UpstreamTarget& target,
                                                  std::string_view query) {
    const auto n = query_param(query, "n");
    const auto last = query_param(query, "last");
    const auto ns = query_param(query, "ns");
    if (n && (n->empty() || n->find_first_not_of("0123456789") != std::string::npos)) {
        {
            const OciError oci_error = {400, "PAGINATION_NUMBER_INVALID",
                                        "invalid number of results requested", ""};
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    if (last && !last->empty() && !is_valid_tag(*last)) {
        {
            const OciError oci_error = tag_invalid();
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    // Upstreams differ in whether they sort and page (docker-registry does neither), so the
    // whole list is asked for and sorted and paged here, as the spec says a registry does.
    const auto request = upstream_request(http::verb::get, target, "tags/list");
    auto answer = co_await upstream::fetch_small(*m_clients[target.index], request,
                                                 upstream::k_max_manifest_bytes);
    if (answer && answer->status == 200) {
        const std::string serialized =
            tags_page(route.name, parse_upstream_tags(answer->body), n, last);
        http::fields headers;
        headers.set(http::field::content_type, "application/json");
        if (const auto next = next_tags_link(route.name, serialized, n, ns); !next.empty())
            headers.set(http::field::link, next);
        co_await server::send_response(ex, http::status::ok, headers, serialized);
        co_return;
    }
    if (answer && answer->status == 401 && target.caller_authorization) {
        const std::string challenge = relayed_challenge(
            upstream::joined_header(answer->headers, http::field::www_authenticate),
            m_config.upstreams[target.index].name);
        co_await send_unauthorized(ex, challenge);
        co_return;
    }
    if (answer && !upstream::is_server_error(answer->status)) {
        {
            const OciError oci_error =
                answer->status == 404 ? name_unknown() : from_upstream_status(answer->status);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    m_metrics.add(target.index, &Counters::upstream_errors);
    if (target.caller_authorization) {
        // Passthrough: what the mirror has seen is not listed without the upstream's yes.
        const OciError oci_error = upstream_unavailable();
        co_await server::send_error(ex, oci_error);
        co_return;
    }
    // Offline: the tags this mirror has seen.
    auto tags = m_cache.list_tags(m_config.upstreams[target.index].name, target.repo);
    if (!tags || tags->empty()) {
        {
            const OciError oci_error = name_unknown();
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    ex.outcome = "stale";
    const std::string serialized = tags_page(route.name, std::move(*tags), n, last);
    http::fields headers;
    headers.set(http::field::content_type, "application/json");
    if (const auto next = next_tags_link(route.name, serialized, n, ns); !next.empty())
        headers.set(http::field::link, next);
    co_await server::send_response(ex, http::status::ok, headers, serialized);
}

net::awaitable<void> RegistryHandler::handle_referrers(Exchange& ex, const Route& route,
                                                       const UpstreamTarget& target,
                                                       std::string_view query) {
    const auto type = query_param(query, "artifactType");
    auto listing = m_referrers.list(target, *store::Digest::parse(route.reference),
                                    type ? *type : std::string());
    const ReferrersAnswer answer = co_await std::move(listing);
    ex.outcome = answer.outcome;
    if (!answer.index) {
        co_await server::send_error(ex, answer.error);
        co_return;
    }
    http::fields headers;
    headers.set(http::field::content_type, std::string(k_oci_index));
    if (answer.filtered) headers.set("OCI-Filters-Applied", "artifactType");
    co_await server::send_response(ex, http::status::ok, headers, *answer.index);
}

}  // namespace proxy::registry
