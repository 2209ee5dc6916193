#include "proxy/registry/registry_handler.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/buffer.hpp>
#include <boost/json.hpp>

#include "proxy/log.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/registry/reference.hpp"
#include "store/sha256.hpp"

namespace proxy::registry {

namespace http = boost::beast::http;
using server::Exchange;

namespace {

constexpr std::size_t k_stream_buffer = 256 * 1024;
constexpr std::string_view k_empty_index =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string header(const http::fields& fields, http::field name) {
    std::string out;
    for (auto [it, end] = fields.equal_range(name); it != end; ++it) {
        if (!out.empty()) out += ", ";
        out += std::string(it->value());
    }
    return out;
}

std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

// An upstream answer read whole (small bodies only).
struct Answer {
    unsigned status = 0;
    http::fields headers;
    std::string body;
};

// Sends `request` and reads up to `cap` bytes of body. An error means no usable answer: the
// upstream is unreachable, the body broke off or was larger than `cap`.
net::awaitable<boost::system::result<Answer>> call(upstream::Client& client,
                                                   const upstream::Request& request,
                                                   std::size_t cap) {
    const bool head = request.method == http::verb::head;
    upstream::Request copy = request;
    auto sent = co_await client.send(std::move(copy));
    if (!sent) co_return sent.error();
    upstream::Response& response = **sent;
    Answer answer;
    answer.status = response.status();
    answer.headers = response.headers();
    if (head) co_return answer;
    std::string buffer(16 * 1024, '\0');
    for (;;) {
        auto [ec, n] = co_await response.read_some(net::buffer(buffer));
        if (ec) co_return ec;
        if (n == 0) break;
        if (answer.body.size() + n > cap) co_return make_error_code(http::error::body_limit);
        answer.body.append(buffer.data(), n);
    }
    co_return answer;
}

upstream::Request make_request(http::verb method, const UpstreamTarget& target,
                               std::string path_and_query) {
    upstream::Request request;
    request.method = method;
    request.target = "/v2/" + target.repo + "/" + path_and_query;
    request.scope = "repository:" + target.repo + ":pull";
    return request;
}

bool is_server_error(unsigned status) {
    return status >= 500 || status == 429;
}

std::string range_error_body() {
    return error_body({416, "BLOB_UNKNOWN", "requested range not satisfiable", ""});
}

}  // namespace

RegistryHandler::RegistryHandler(const config::Config& config, cache::Cache& cache,
                                 std::vector<upstream::Client*> clients, fetch::Fetcher& fetcher,
                                 Metrics& metrics)
    : m_config(config),
      m_cache(cache),
      m_clients(std::move(clients)),
      m_fetcher(fetcher),
      m_metrics(metrics) {}

net::awaitable<void> RegistryHandler::handle(Exchange& ex) {
    const std::string_view target = ex.request.target();
    const std::size_t qmark = target.find('?');
    const std::string_view raw_path = target.substr(0, qmark);
    const std::string_view query =
        qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

    const auto path = decode_path(raw_path);
    if (!path || path->size() > 4096) {
        {
            const OciError oci_error = bad_request();
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    auto parsed = parse_route(ex.request.method(), *path);
    if (auto* error = std::get_if<OciError>(&parsed)) {
        http::fields headers;
        if (error->status == 405) headers.set(http::field::allow, "GET, HEAD");
        co_await server::send_error(ex, *error, headers);
        co_return;
    }
    const Route& route = std::get<Route>(parsed);
    if (route.endpoint == Endpoint::base) {
        http::fields headers;
        headers.set("Docker-Distribution-API-Version", "registry/2.0");
        headers.set(http::field::content_type, "application/json");
        co_await server::send_response(ex, http::status::ok, headers, "{}");
        co_return;
    }
    auto selected = select_upstream(m_config.upstreams, query_param(query, "ns"), route.name);
    if (auto* error = std::get_if<OciError>(&selected)) {
        co_await server::send_error(ex, *error);
        co_return;
    }
    const UpstreamTarget& up = std::get<UpstreamTarget>(selected);
    if (!is_valid_name(up.repo)) {
        {
            const OciError oci_error = name_invalid();
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    switch (route.endpoint) {
        case Endpoint::manifest:
            co_await handle_manifest(ex, route, up);
            break;
        case Endpoint::blob:
            co_await handle_blob(ex, route, up);
            break;
        case Endpoint::tags_list:
            co_await handle_tags(ex, route, up, query);
            break;
        case Endpoint::referrers:
            co_await handle_referrers(ex, route, up, query);
            break;
        case Endpoint::base:
            break;
    }
}

// ---- manifests ----

std::optional<RegistryHandler::Manifest> RegistryHandler::load_manifest(
    const store::Digest& digest) {
    {
        std::lock_guard lock(m_manifest_cache_mutex);
        if (const Manifest* cached = m_manifest_cache.find(digest)) {
            m_cache.record_hit(digest);
            return *cached;
        }
    }
    auto info = m_cache.stat(digest);
    if (!info) {
        bump(m_metrics.total().store_errors);
        return std::nullopt;
    }
    if (!*info || (*info)->size > k_max_manifest_bytes) return std::nullopt;
    Manifest manifest{{}, (*info)->media_type, digest};
    manifest.body.reserve((*info)->size);
    auto read = m_cache.read_range(digest, 0, (*info)->size, [&](std::span<const char> piece) {
        manifest.body.append(piece.data(), piece.size());
        return true;
    });
    if (!read || manifest.body.size() != (*info)->size) {
        bump(m_metrics.total().store_errors);
        return std::nullopt;
    }
    m_cache.record_hit(digest);
    {
        std::lock_guard lock(m_manifest_cache_mutex);
        m_manifest_cache.put(digest, manifest);
    }
    return manifest;
}

net::awaitable<void> RegistryHandler::store_manifest(const UpstreamTarget& target,
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
            m_fetcher.prefetch(blob, {m_clients[target.index], target.index, target.repo});
    }
}

namespace {

// What makes two manifest requests the same request to the upstream.
std::string flight_key(const UpstreamTarget& target, const std::string& reference,
                       const std::string& accept) {
    return std::to_string(target.index) + ' ' + target.repo + ' ' + reference + ' ' + accept;
}

}  // namespace

OciError RegistryHandler::fetch_error(const ManifestFetch& fetched) {
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
    return upstream_unavailable();
}

net::awaitable<RegistryHandler::ManifestFetch> RegistryHandler::fetch_for(
    Exchange& ex, const UpstreamTarget& target, std::string reference, std::string accept,
    std::optional<store::Digest> expected, std::optional<store::TagKey> tag) {
    // A caller that joins is counted as coalesced when it joins (as for blobs), so the count
    // shows a burst while it waits.
    auto fetch_op = [this, target, reference, accept, expected, tag = std::move(tag)] {
        return fetch_manifest(target, reference, accept, expected, tag);
    };
    auto count_join = [this, up = target.index] { m_metrics.add(up, &Counters::coalesced); };
    auto running =
        m_manifest_fetches.run(flight_key(target, reference, accept), fetch_op, count_join);
    auto outcome = co_await std::move(running);
    ex.outcome = outcome.coalesced ? "coalesced" : "miss";
    if (!outcome.coalesced) m_metrics.add(target.index, &Counters::misses);
    co_return std::move(outcome.value);
}

net::awaitable<RegistryHandler::TagCheck> RegistryHandler::check_tag(const UpstreamTarget& target,
                                                                     std::string reference,
                                                                     std::string accept,
                                                                     store::TagKey key,
                                                                     store::TagRecord stored) {
    auto request = make_request(http::verb::head, target, "manifests/" + reference);
    request.headers.set(http::field::accept, accept.empty() ? all_manifest_types() : accept);
    auto calling = call(*m_clients[target.index], request, 0);
    auto answer = co_await std::move(calling);
    if (!answer || is_server_error(answer->status)) {
        m_metrics.add(target.index, &Counters::upstream_errors);
        co_return TagCheck::unreachable;
    }
    if (answer->status == 404) co_return TagCheck::gone;
    if (answer->status != 200) co_return TagCheck::other;
    const auto it = answer->headers.find("Docker-Content-Digest");
    const auto current =
        it == answer->headers.end() ? std::nullopt : store::Digest::parse(std::string(it->value()));
    if (!current || *current != stored.digest) co_return TagCheck::other;
    stored.fetched_at = now_seconds();
    auto putting = m_cache.put_tag(key, stored);
    if (auto put = co_await std::move(putting); !put)
        m_metrics.add(target.index, &Counters::store_errors);
    co_return TagCheck::same;
}

net::awaitable<RegistryHandler::ManifestFetch> RegistryHandler::fetch_manifest(
    const UpstreamTarget& target, std::string reference, std::string accept,
    std::optional<store::Digest> expected, std::optional<store::TagKey> tag) {
    ManifestFetch result;
    auto request = make_request(http::verb::get, target, "manifests/" + reference);
    request.headers.set(http::field::accept, accept.empty() ? all_manifest_types() : accept);
    auto calling = call(*m_clients[target.index], request, k_max_manifest_bytes);
    auto answer = co_await std::move(calling);
    if (!answer) {
        m_metrics.add(target.index, &Counters::upstream_errors);
        co_return result;
    }
    if (answer->status != 200) {
        if (is_server_error(answer->status))
            m_metrics.add(target.index, &Counters::upstream_errors);
        result.kind = ManifestFetch::Kind::status;
        result.status = answer->status;
        co_return result;
    }
    const store::Digest digest = store::Sha256::of(answer->body);
    const std::string claimed_text = [&] {
        const auto it = answer->headers.find("Docker-Content-Digest");
        return it == answer->headers.end() ? std::string{} : std::string(it->value());
    }();
    const auto claimed_digest = store::Digest::parse(claimed_text);
    if ((expected && digest != *expected) || (claimed_digest && *claimed_digest != digest)) {
        m_metrics.add(target.index, &Counters::digest_mismatch);
        log_line("manifest " + target.repo + ":" + reference +
                 ": upstream content does not match its digest; not stored");
        result.kind = ManifestFetch::Kind::invalid;
        co_return result;
    }
    std::string media_type = header(answer->headers, http::field::content_type);
    media_type = media_type.substr(0, media_type.find(';'));
    if (media_type.empty() || media_type == "application/json" || media_type == "text/plain") {
        const auto refs = parse_manifest_refs(answer->body);
        media_type =
            refs && !refs->media_type.empty() ? refs->media_type : std::string(k_oci_manifest);
    }
    result.kind = ManifestFetch::Kind::ok;
    result.manifest = Manifest{std::move(answer->body), std::move(media_type), digest};
    m_metrics.add(target.index, &Counters::bytes_from_upstream, result.manifest.body.size());
    auto storing = store_manifest(target, result.manifest);
    co_await std::move(storing);
    if (tag) {
        auto putting = m_cache.put_tag(
            *tag, {result.manifest.digest, result.manifest.media_type, now_seconds()});
        if (auto put = co_await std::move(putting); !put)
            m_metrics.add(target.index, &Counters::store_errors);
    }
    co_return result;
}

net::awaitable<void> RegistryHandler::send_manifest(Exchange& ex, const Manifest& manifest) {
    http::fields headers;
    headers.set(http::field::content_type, manifest.media_type);
    headers.set("Docker-Content-Digest", manifest.digest.str());
    headers.set(http::field::etag, quoted(manifest.digest.str()));
    co_await server::send_response(ex, http::status::ok, headers, manifest.body);
}

net::awaitable<void> RegistryHandler::handle_manifest(Exchange& ex, const Route& route,
                                                      const UpstreamTarget& target) {
    const std::string accept = header(ex.request, http::field::accept);
    const std::size_t up = target.index;

    if (route.reference_is_digest) {
        const auto digest = store::Digest::parse(route.reference);
        // Content by digest is immutable: a stored copy answers whatever the Accept says.
        if (auto stored = load_manifest(*digest)) {
            ex.outcome = "hit";
            m_metrics.add(up, &Counters::hits);
            m_metrics.add(up, &Counters::bytes_from_cache, stored->body.size());
            co_await send_manifest(ex, *stored);
            co_return;
        }
        auto fetching = fetch_for(ex, target, route.reference, accept, digest, std::nullopt);
        const ManifestFetch fetched = co_await std::move(fetching);
        if (fetched.kind == ManifestFetch::Kind::ok) {
            co_await send_manifest(ex, fetched.manifest);
            co_return;
        }
        {
            const OciError oci_error = fetch_error(fetched);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }

    // By tag: the tag record decides while fresh; after tag_ttl the upstream is asked.
    const store::TagKey key{m_config.upstreams[up].name, target.repo, route.reference};
    std::optional<Manifest> stored;
    std::int64_t fetched_at = 0;
    if (auto record = m_cache.get_tag(key); !record) {
        m_metrics.add(up, &Counters::store_errors);
    } else if (*record) {
        stored = load_manifest((*record)->digest);
        fetched_at = (*record)->fetched_at;
    }
    const bool acceptable = stored && accepts(accept, stored->media_type);
    const auto ttl = m_config.upstreams[up].tag_ttl.count();
    const auto serve_cached = [&](const char* outcome) -> net::awaitable<void> {
        ex.outcome = outcome;
        if (ex.outcome == "stale")
            m_metrics.add(up, &Counters::stale);
        else
            m_metrics.add(up, &Counters::hits);
        m_metrics.add(up, &Counters::bytes_from_cache, stored->body.size());
        co_await send_manifest(ex, *stored);
    };

    if (acceptable && now_seconds() - fetched_at < ttl) {
        co_await serve_cached("hit");
        co_return;
    }
    if (acceptable) {
        auto checking =
            m_tag_checks.run("HEAD " + flight_key(target, route.reference, accept),
                             [this, target, reference = route.reference, accept, key,
                              record = store::TagRecord{stored->digest, stored->media_type, 0}] {
                                 return check_tag(target, reference, accept, key, record);
                             });
        const auto check = co_await std::move(checking);
        switch (check.value) {
            case TagCheck::same:
                co_await serve_cached("hit");
                co_return;
            case TagCheck::unreachable:
                log_line("manifest " + target.repo + ":" + route.reference +
                         ": upstream unavailable, serving the stale copy");
                co_await serve_cached("stale");
                co_return;
            case TagCheck::gone: {
                const OciError oci_error = manifest_unknown();
                co_await server::send_error(ex, oci_error);
            }
                co_return;
            case TagCheck::other:
                break;
        }
    }

    auto fetching = fetch_for(ex, target, route.reference, accept, std::nullopt, key);
    const ManifestFetch fetched = co_await std::move(fetching);
    if (fetched.kind == ManifestFetch::Kind::ok) {
        co_await send_manifest(ex, fetched.manifest);
        co_return;
    }
    const bool upstream_down =
        fetched.kind == ManifestFetch::Kind::unreachable ||
        (fetched.kind == ManifestFetch::Kind::status && is_server_error(fetched.status));
    if (!upstream_down) {
        {
            const OciError oci_error = fetch_error(fetched);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    if (stored) {  // offline: the stale copy is better than nothing
        co_await serve_cached("stale");
        co_return;
    }
    {
        const OciError oci_error = upstream_unavailable();
        co_await server::send_error(ex, oci_error);
    }
}

// ---- blobs ----

net::awaitable<void> RegistryHandler::serve_stored_blob(Exchange& ex, const store::Digest& digest,
                                                        const store::BlobInfo& info,
                                                        std::size_t up) {
    http::fields headers;
    headers.set(http::field::content_type,
                info.media_type.empty() ? "application/octet-stream" : info.media_type);
    headers.set("Docker-Content-Digest", digest.str());
    headers.set(http::field::etag, quoted(digest.str()));
    headers.set(http::field::accept_ranges, "bytes");
    ex.outcome = "hit";
    m_metrics.add(up, &Counters::hits);
    m_cache.record_hit(digest);
    if (ex.is_head()) {
        co_await server::send_head(ex, http::status::ok, headers, info.size);
        co_return;
    }
    RangeRequest range;
    if (const auto it = ex.request.find(http::field::range); it != ex.request.end())
        range = parse_range(it->value(), info.size);
    if (range.kind == RangeKind::unsatisfiable) {
        headers.set(http::field::content_range, "bytes */" + std::to_string(info.size));
        headers.set(http::field::content_type, "application/json");
        const std::string body = range_error_body();
        co_await server::send_response(ex, http::status::range_not_satisfiable, headers, body);
        co_return;
    }
    ByteRange bytes{0, info.size == 0 ? 0 : info.size - 1};
    auto status = http::status::ok;
    if (range.kind == RangeKind::satisfiable) {
        bytes = range.range;
        status = http::status::partial_content;
        headers.set(http::field::content_range, "bytes " + std::to_string(bytes.first) + "-" +
                                                    std::to_string(bytes.last) + "/" +
                                                    std::to_string(info.size));
    }
    const std::uint64_t length = info.size == 0 ? 0 : bytes.length();
    server::BodyWriter writer(ex, status, headers, length);
    if (!co_await writer.write_header()) co_return;
    std::string chunk;
    std::uint64_t offset = bytes.first;
    const std::uint64_t end = bytes.first + length;
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
        if (!co_await writer.write({chunk.data() + from, count})) co_return;
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
        if (status.upstream_status == 404) {
            const OciError oci_error = blob_unknown();
            co_await server::send_error(ex, oci_error);
        } else if (status.upstream_status == 0) {
            const OciError oci_error = upstream_unavailable();
            co_await server::send_error(ex, oci_error);
        } else {
            const OciError oci_error = from_upstream_status(status.upstream_status);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    http::fields headers;
    headers.set(http::field::content_type, status.media_type);
    headers.set("Docker-Content-Digest", digest.str());
    headers.set(http::field::etag, quoted(digest.str()));
    headers.set(http::field::accept_ranges, "bytes");

    std::uint64_t offset = 0;
    std::optional<std::uint64_t> end = status.size;  // exclusive
    auto code = http::status::ok;
    if (status.size) {
        if (const auto it = ex.request.find(http::field::range); it != ex.request.end()) {
            const auto range = parse_range(it->value(), *status.size);
            if (range.kind == RangeKind::unsatisfiable) {
                headers.set(http::field::content_range, "bytes */" + std::to_string(*status.size));
                headers.set(http::field::content_type, "application/json");
                const std::string body = range_error_body();
                co_await server::send_response(ex, http::status::range_not_satisfiable, headers,
                                               body);
                co_return;
            }
            if (range.kind == RangeKind::satisfiable) {
                offset = range.range.first;
                end = range.range.last + 1;
                code = http::status::partial_content;
                headers.set(http::field::content_range, "bytes " +
                                                            std::to_string(range.range.first) +
                                                            "-" + std::to_string(range.range.last) +
                                                            "/" + std::to_string(*status.size));
            }
        }
    }
    const std::optional<std::uint64_t> length =
        end ? std::optional<std::uint64_t>(*end - offset) : std::nullopt;
    server::BodyWriter writer(ex, code, headers, length);
    if (!co_await writer.write_header()) co_return;
    std::vector<char> buffer(k_stream_buffer);
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
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), available - offset));
        auto read = fetch.read(offset, {buffer.data(), want});
        if (!read || *read == 0) {
            log_line("blob " + digest.str() + ": spool unreadable; connection aborted");
            server::abort_connection(ex);
            co_return;
        }
        if (!co_await writer.write({buffer.data(), *read})) co_return;
        offset += *read;
    }
    co_await writer.finish();
}

net::awaitable<void> RegistryHandler::handle_blob(Exchange& ex, const Route& route,
                                                  const UpstreamTarget& target) {
    const auto digest = *store::Digest::parse(route.reference);
    const std::size_t up = target.index;
    // Held until the last byte is written: the evictor never removes a blob under a reader.
    auto leasing = m_cache.lease(digest);
    const cache::Evictor::Lease lease = co_await std::move(leasing);
    if (auto info = m_cache.stat(digest); !info) {
        m_metrics.add(up, &Counters::store_errors);
    } else if (*info) {
        co_await serve_stored_blob(ex, digest, **info, up);
        co_return;
    }
    if (ex.is_head()) {
        // A HEAD of a missing blob asks upstream without downloading it.
        const auto request = make_request(http::verb::head, target, "blobs/" + route.reference);
        auto answer = co_await call(*m_clients[up], request, 0);
        if (!answer) {
            m_metrics.add(up, &Counters::upstream_errors);
            {
                const OciError oci_error = upstream_unavailable();
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
        http::fields headers;
        const std::string type = header(answer->headers, http::field::content_type);
        headers.set(http::field::content_type, type.empty() ? "application/octet-stream" : type);
        headers.set("Docker-Content-Digest", digest.str());
        headers.set(http::field::etag, quoted(digest.str()));
        headers.set(http::field::accept_ranges, "bytes");
        std::uint64_t length = 0;
        const std::string cl = header(answer->headers, http::field::content_length);
        if (!cl.empty()) length = std::strtoull(cl.c_str(), nullptr, 10);
        co_await server::send_head(ex, http::status::ok, headers, length);
        co_return;
    }
    auto joined = m_fetcher.join(digest, {m_clients[up], up, target.repo});
    if (!joined) {
        log_line("blob " + digest.str() + ": cannot start a download: " + joined.error().message());
        {
            const OciError oci_error = upstream_unavailable("cannot spool the download");
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    if (!joined->fetch) {  // committed by another download just now
        if (auto info = m_cache.stat(digest); info && *info) {
            co_await serve_stored_blob(ex, digest, **info, up);
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

namespace {

// The OCI tag list body: tags sorted, those after `last` only, at most `n` of them.
std::string tags_page(const std::string& name, std::vector<std::string> tags,
                      const std::optional<std::string>& n, const std::optional<std::string>& last) {
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    const std::size_t limit =
        n ? static_cast<std::size_t>(std::strtoull(n->c_str(), nullptr, 10)) : tags.size();
    boost::json::array list;
    for (const auto& tag : tags) {
        if (last && !last->empty() && tag <= *last) continue;
        if (list.size() >= limit) break;
        list.emplace_back(tag);
    }
    boost::json::object body;
    body["name"] = name;
    body["tags"] = std::move(list);
    return boost::json::serialize(body);
}

// Percent-encodes everything but unreserved characters and `keep`, for a query value.
std::string query_escape(std::string_view value, std::string_view keep) {
    std::string encoded;
    for (const char c : value) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
            c == '~' || keep.find(c) != std::string_view::npos) {
            encoded.push_back(c);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
            encoded += hex;
        }
    }
    return encoded;
}

// The Link header for the next page when a page was asked for and came back full; else "".
// It keeps the request's `ns`, so the next page comes from the same upstream.
std::string next_tags_link(const std::string& name, const std::string& page,
                           const std::optional<std::string>& n,
                           const std::optional<std::string>& ns) {
    if (!n) return {};
    const auto limit = std::strtoull(n->c_str(), nullptr, 10);
    const boost::json::value parsed = boost::json::parse(page);
    const auto& tags = parsed.as_object().at("tags").as_array();
    if (limit == 0 || tags.size() < limit) return {};
    std::string link = "</v2/" + name + "/tags/list?n=" + *n +
                       "&last=" + query_escape(tags.back().as_string(), "");
    if (ns && !ns->empty()) link += "&ns=" + query_escape(*ns, ":[]");
    return link + ">; rel=\"next\"";
}

}  // namespace

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
    const auto request = make_request(http::verb::get, target, "tags/list");
    auto answer = co_await call(*m_clients[target.index], request, k_max_manifest_bytes);
    if (answer && answer->status == 200) {
        std::vector<std::string> upstream_tags;
        boost::system::error_code parse_ec;
        const auto parsed = boost::json::parse(answer->body, parse_ec);
        if (!parse_ec && parsed.is_object()) {
            if (const auto* list = parsed.as_object().if_contains("tags");
                list && list->is_array()) {
                for (const auto& tag : list->as_array())
                    if (tag.is_string()) upstream_tags.emplace_back(tag.as_string());
            }
        }
        const std::string serialized = tags_page(route.name, std::move(upstream_tags), n, last);
        http::fields headers;
        headers.set(http::field::content_type, "application/json");
        if (const auto next = next_tags_link(route.name, serialized, n, ns); !next.empty())
            headers.set(http::field::link, next);
        co_await server::send_response(ex, http::status::ok, headers, serialized);
        co_return;
    }
    if (answer && !is_server_error(answer->status)) {
        {
            const OciError oci_error =
                answer->status == 404 ? name_unknown() : from_upstream_status(answer->status);
            co_await server::send_error(ex, oci_error);
        }
        co_return;
    }
    m_metrics.add(target.index, &Counters::upstream_errors);
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
    std::string path = "referrers/" + route.reference;
    if (const auto type = query_param(query, "artifactType"); type && !type->empty())
        path += "?artifactType=" + query_escape(*type, "/+");
    const auto request = make_request(http::verb::get, target, path);
    auto answer = co_await call(*m_clients[target.index], request, k_max_manifest_bytes);
    http::fields headers;
    if (answer && answer->status == 200) {
        const std::string type = header(answer->headers, http::field::content_type);
        headers.set(http::field::content_type, type.empty() ? std::string(k_oci_index) : type);
        const auto filters = answer->headers.find("OCI-Filters-Applied");
        if (filters != answer->headers.end())
            headers.set("OCI-Filters-Applied", std::string(filters->value()));
        co_await server::send_response(ex, http::status::ok, headers, answer->body);
        co_return;
    }
    if (!answer) m_metrics.add(target.index, &Counters::upstream_errors);
    // An upstream without the referrers API (404) or out of reach: no known referrers.
    headers.set(http::field::content_type, std::string(k_oci_index));
    co_await server::send_response(ex, http::status::ok, headers, k_empty_index);
}

}  // namespace proxy::registry
