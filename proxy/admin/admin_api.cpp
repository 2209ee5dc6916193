#include "proxy/admin/admin_api.hpp"

#include <array>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace proxy {

// The admin API is the evictor's control surface: its types are used throughout.
using namespace cache;

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 5> k_reasons{"watermark", "limits", "reserve", "max_age",
                                                    "admin"};

AdminResponse json_response(unsigned status, const json::value& value) {
    AdminResponse r;
    r.status = status;
    r.body = json::serialize(value);
    return r;
}

AdminResponse method_not_allowed(std::string_view allow) {
    auto r = admin_error(405, "UNSUPPORTED", "method not allowed; use " + std::string(allow));
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

// SHA-256 of both sides, compared in constant time: neither content nor length leaks.
bool token_matches(std::string_view given, std::string_view expected) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> a{};
    std::array<unsigned char, EVP_MAX_MD_SIZE> b{};
    unsigned int la = 0;
    unsigned int lb = 0;
    if (EVP_Digest(given.data(), given.size(), a.data(), &la, EVP_sha256(), nullptr) != 1 ||
        EVP_Digest(expected.data(), expected.size(), b.data(), &lb, EVP_sha256(), nullptr) != 1)
        return false;
    return la == lb && CRYPTO_memcmp(a.data(), b.data(), la) == 0;
}

json::object pin_json(const PinInfo& p) {
    json::object o;
    o["pin"] = p.pin;
    o["source"] = p.from_config ? "config" : "admin";
    if (p.resolves_to) {
        o["digest"] = p.resolves_to->str();
    } else {
        o["digest"] = nullptr;
    }
    return o;
}

json::object result_json(const EvictionResult& r, bool dry_run) {
    json::array removed;
    std::uint64_t bytes = 0;
    for (const auto& b : r.removed) {
        json::object o;
        o["digest"] = b.digest.str();
        o["size"] = b.bytes;
        removed.push_back(std::move(o));
        bytes += b.bytes;
    }
    json::object o;
    o["dry_run"] = dry_run;
    o["count"] = r.removed.size();
    o["bytes"] = bytes;
    o["used_before"] = r.used_before;
    o["used_after"] = r.used_after;
    o["reached_target"] = r.reached_target;
    o["removed"] = std::move(removed);
    return o;
}

}  // namespace

TrafficStats traffic_stats(Metrics& metrics) {
    auto load = [](const std::atomic<std::uint64_t>& c) {
        return c.load(std::memory_order_relaxed);
    };
    TrafficStats t;
    t.hits = load(metrics.total().hits);
    t.misses = load(metrics.total().misses);
    t.bytes_from_cache = load(metrics.total().bytes_from_cache);
    t.bytes_from_upstream = load(metrics.total().bytes_from_upstream);
    for (std::size_t i = 0; i < metrics.upstream_names().size(); ++i) {
        const Counters& c = metrics.upstream(i);
        t.upstreams[metrics.upstream_names()[i]] = {
            {"hits", load(c.hits)},
            {"misses", load(c.misses)},
            {"coalesced", load(c.coalesced)},
            {"stale", load(c.stale)},
            {"negative", load(c.negative)},
            {"bytes_from_cache", load(c.bytes_from_cache)},
            {"bytes_from_upstream", load(c.bytes_from_upstream)},
            {"digest_mismatch", load(c.digest_mismatch)},
            {"upstream_errors", load(c.upstream_errors)},
            {"store_errors", load(c.store_errors)},
        };
    }
    return t;
}

// A label value in Prometheus' text format: backslash, double quote and newline escaped.
std::string label_value(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Writes Prometheus' text exposition format, one family at a time.
class Exposition {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        m_name = name;
        m_text += "# HELP ";
        m_text += name;
        m_text += ' ';
        m_text += help;
        m_text += "\n# TYPE ";
        m_text += name;
        m_text += ' ';
        m_text += type;
        m_text += '\n';
    }
    // A sample of the current family; `labels` as name/value pairs.
    void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                double value) {
        m_text += m_name;
        if (labels.size() != 0) {
            m_text += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) m_text += ',';
                first = false;
                m_text += k;
                m_text += "=\"";
                m_text += label_value(v);
                m_text += '"';
            }
            m_text += '}';
        }
        char number[64];
        std::snprintf(number, sizeof number, " %.17g\n", value);
        m_text += number;
    }
    void sample(double value) { sample({}, value); }
    std::string take() { return std::move(m_text); }

  private:
    std::string m_name;
    std::string m_text;
};

bool is_loopback(const boost::asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
            .is_loopback();
    return address.is_loopback();
}

AdminApi::AdminApi(Evictor& evictor, std::string admin_token, std::function<TrafficStats()> traffic)
    : m_evictor(evictor), m_token(std::move(admin_token)), m_traffic(std::move(traffic)) {}

bool AdminApi::is_admin_path(std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    return path == k_prefix || (path.starts_with(k_prefix) && path[k_prefix.size()] == '/');
}

std::optional<AdminResponse> AdminApi::check_access(const AdminRequest& req) const {
    if (req.granted) return std::nullopt;
    if (m_token.empty()) {
        if (!is_loopback(req.peer))
            return admin_error(403, "DENIED",
                               "the admin API answers loopback callers only unless an "
                               "admin_token is configured");
        return std::nullopt;
    }
    constexpr std::string_view scheme = "Bearer ";
    const bool ok = req.authorization.size() > scheme.size() &&
                    req.authorization.substr(0, scheme.size()) == scheme &&
                    token_matches(req.authorization.substr(scheme.size()), m_token);
    if (ok) return std::nullopt;
    auto r = admin_error(401, "UNAUTHORIZED", "a valid admin bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"envcache-admin\"");
    return r;
}

AdminResponse AdminApi::handle(const AdminRequest& req) const {
    if (auto refused = check_access(req)) return std::move(*refused);

    auto parsed = boost::urls::parse_origin_form(req.target);
    if (!parsed) return admin_error(400, "INVALID_REQUEST", "malformed request target");
    std::vector<std::string> segments;
    for (auto s : parsed->segments())
        segments.push_back(s);
    // segments: api, v1, admin, <resource>, [rest...]
    if (segments.size() < 4 || segments[0] != "api" || segments[1] != "v1" ||
        segments[2] != "admin")
        return admin_error(404, "NOT_FOUND", "no such admin endpoint");
    const std::string& resource = segments[3];
    const std::string_view method = req.method;

    if (resource == "stats" && segments.size() == 4) {
        if (method != "GET") return method_not_allowed("GET");
        return stats();
    }
    if (resource == "metrics" && segments.size() == 4) {
        if (method != "GET") return method_not_allowed("GET");
        return metrics();
    }
    if (resource == "limits" && segments.size() == 4) {
        if (method == "GET") return get_limits();
        if (method == "PUT") return put_limits(req.body);
        if (method == "DELETE") return delete_limits();
        return method_not_allowed("GET, PUT, DELETE");
    }
    if (resource == "pins") {
        if (segments.size() > 4) {
            if (method != "DELETE") return method_not_allowed("DELETE");
            // A pin in the path, percent-encoded or not ("docker.io/library/python:3.12").
            std::string pin;
            for (std::size_t i = 4; i < segments.size(); ++i) {
                if (i > 4) pin += '/';
                pin += segments[i];
            }
            return remove_pin(pin);
        }
        if (method == "GET") return get_pins();
        if (method == "POST") return add_pin(req.body);
        if (method == "DELETE") {
            auto pin = parse_pin_body(req.body);
            if (auto* refused = std::get_if<AdminResponse>(&pin)) return std::move(*refused);
            return remove_pin(std::get<std::string>(pin));
        }
        return method_not_allowed("GET, POST, DELETE");
    }
    if (resource == "evict" && segments.size() == 4) {
        if (method != "POST") return method_not_allowed("POST");
        return evict(req.body);
    }
    return admin_error(404, "NOT_FOUND", "no such admin endpoint");
}

AdminResponse AdminApi::stats() const {
    const EvictorStats s = m_evictor.stats();
    const TrafficStats t = m_traffic ? m_traffic() : TrafficStats{};
    json::object o;
    o["used_bytes"] = s.usage.used_bytes;
    o["max_bytes"] = s.limits.max_size;
    o["high_watermark"] = s.limits.high_watermark;
    o["low_watermark"] = s.limits.low_watermark;
    o["high_bytes"] = s.limits.high_bytes();
    o["low_bytes"] = s.limits.low_bytes();
    o["policy"] = s.limits.policy;
    o["max_age"] = static_cast<std::int64_t>(s.limits.max_age.count());
    o["blobs"] = s.usage.blobs;
    o["blob_bytes"] = s.usage.blob_bytes;
    o["map_bytes"] = s.usage.map_bytes;
    o["hits"] = t.hits;
    o["misses"] = t.misses;
    const auto requests = t.hits + t.misses;
    o["hit_ratio"] = requests ? static_cast<double>(t.hits) / static_cast<double>(requests) : 0.0;
    o["bytes_from_cache"] = t.bytes_from_cache;
    o["bytes_from_upstream"] = t.bytes_from_upstream;
    json::object evictions;
    json::object evicted_bytes;
    for (auto reason : k_reasons) {
        evictions[reason] = 0;
        evicted_bytes[reason] = 0;
    }
    for (const auto& [reason, n] : s.evictions)
        evictions[reason] = n;
    for (const auto& [reason, n] : s.evicted_bytes)
        evicted_bytes[reason] = n;
    o["evictions"] = std::move(evictions);
    o["evicted_bytes"] = std::move(evicted_bytes);
    o["leased_blobs"] = s.leased_blobs;
    o["protected_blobs"] = s.protected_blobs;
    o["remove_errors"] = s.remove_errors;
    o["reserve_refused"] = s.reserve_refused;
    o["hot"] = json::object{{"bytes", t.hot.bytes},
                            {"max_bytes", t.hot.max_bytes},
                            {"max_blob_bytes", t.hot.max_blob_bytes},
                            {"blobs", t.hot.blobs},
                            {"files", t.hot.files},
                            {"hits", t.hot.hits},
                            {"fills", t.hot.fills},
                            {"fill_errors", t.hot.fill_errors},
                            {"evictions", t.hot.evictions}};
    json::object upstreams;
    for (const auto& [name, counters] : t.upstreams) {
        json::object u;
        for (const auto& [key, n] : counters)
            u[key] = n;
        if (const auto it = t.circuits.find(name); it != t.circuits.end())
            u["circuit"] = it->second;
        upstreams[name] = std::move(u);
    }
    o["upstreams"] = std::move(upstreams);
    o["server"] = json::object{{"connections", t.server.connections},
                               {"loops", t.server.loops},
                               {"active_loops", t.server.active_loops}};
    return json_response(200, o);
}

AdminResponse AdminApi::metrics() const {
    const EvictorStats s = m_evictor.stats();
    const TrafficStats t = m_traffic ? m_traffic() : TrafficStats{};
    auto counter = [&t](const std::map<std::string, std::uint64_t>& counters, const char* name) {
        const auto it = counters.find(name);
        return it == counters.end() ? 0.0 : static_cast<double>(it->second);
    };
    Exposition out;
    out.family("envcache_requests_total", "counter",
               "Pull requests for manifests and blobs by upstream and outcome.");
    for (const auto& [name, c] : t.upstreams) {
        for (const auto& [key, outcome] :
             {std::pair{"hits", "hit"}, std::pair{"misses", "miss"},
              std::pair{"coalesced", "coalesced"}, std::pair{"stale", "stale"},
              std::pair{"negative", "negative"}})
            out.sample({{"upstream", name}, {"outcome", outcome}}, counter(c, key));
    }
    out.family("envcache_bytes_total", "counter",
               "Bytes sent to clients from the store (cache), and bytes downloaded from upstream "
               "(upstream, once per download however many clients it fed).");
    for (const auto& [name, c] : t.upstreams) {
        out.sample({{"upstream", name}, {"source", "cache"}}, counter(c, "bytes_from_cache"));
        out.sample({{"upstream", name}, {"source", "upstream"}}, counter(c, "bytes_from_upstream"));
    }
    for (const auto& [family, key, help] :
         {std::tuple{"envcache_upstream_errors_total", "upstream_errors",
                     "Upstream requests that failed (unreachable, 5xx, broken stream)."},
          std::tuple{"envcache_digest_mismatches_total", "digest_mismatch",
                     "Upstream content that did not match its digest (never stored)."},
          std::tuple{"envcache_store_errors_total", "store_errors",
                     "Store reads or writes that failed."}}) {
        out.family(family, "counter", help);
        for (const auto& [name, c] : t.upstreams)
            out.sample({{"upstream", name}}, counter(c, key));
    }
    for (const auto& [family, key, help] :
         {std::tuple{"envcache_upstream_circuit_opened_total", "circuit_opened",
                     "Times the upstream's circuit breaker opened."},
          std::tuple{"envcache_upstream_refused_total", "circuit_refused",
                     "Upstream requests not sent because the circuit breaker was open."},
          std::tuple{"envcache_upstream_retries_total", "retries",
                     "Upstream retries the retry budget allowed."},
          std::tuple{"envcache_upstream_retries_refused_total", "retries_refused",
                     "Upstream retries the retry budget (or an open breaker) refused."}}) {
        out.family(family, "counter", help);
        for (const auto& [name, c] : t.upstreams)
            out.sample({{"upstream", name}}, counter(c, key));
    }
    out.family("envcache_upstream_circuit_state", "gauge",
               "The upstream's circuit breaker: 1 for its current state, 0 for the others.");
    for (const auto& [name, state] : t.circuits)
        for (const char* each : {"closed", "open", "half_open"})
            out.sample({{"upstream", name}, {"state", each}}, state == each ? 1.0 : 0.0);
    out.family("envcache_store_used_bytes", "gauge", "Store usage in LMDB pages, as bytes.");
    out.sample(static_cast<double>(s.usage.used_bytes));
    out.family("envcache_store_max_bytes", "gauge", "The store's size limit (storage.max_size).");
    out.sample(static_cast<double>(s.limits.max_size));
    out.family("envcache_store_high_watermark_bytes", "gauge", "Usage at which eviction starts.");
    out.sample(static_cast<double>(s.limits.high_bytes()));
    out.family("envcache_store_low_watermark_bytes", "gauge", "Usage eviction brings it down to.");
    out.sample(static_cast<double>(s.limits.low_bytes()));
    out.family("envcache_store_blobs", "gauge", "Blobs in the store.");
    out.sample(static_cast<double>(s.usage.blobs));
    out.family("envcache_evictions_total", "counter", "Blobs evicted, by reason.");
    for (auto reason : k_reasons) {
        const auto it = s.evictions.find(std::string(reason));
        out.sample({{"reason", reason}}, it == s.evictions.end() ? 0.0 : double(it->second));
    }
    out.family("envcache_evicted_bytes_total", "counter", "Bytes evicted, by reason.");
    for (auto reason : k_reasons) {
        const auto it = s.evicted_bytes.find(std::string(reason));
        out.sample({{"reason", reason}}, it == s.evicted_bytes.end() ? 0.0 : double(it->second));
    }
    out.family("envcache_reserve_refused_total", "counter",
               "Blobs streamed to clients but not stored: they could not fit.");
    out.sample(static_cast<double>(s.reserve_refused));
    out.family("envcache_remove_errors_total", "counter", "Evictions the store failed to do.");
    out.sample(static_cast<double>(s.remove_errors));
    out.family("envcache_leased_blobs", "gauge", "Blobs being read now (never evicted).");
    out.sample(static_cast<double>(s.leased_blobs));
    out.family("envcache_protected_blobs", "gauge", "Blobs a pin protects.");
    out.sample(static_cast<double>(s.protected_blobs));
    for (const auto& [family, type, value, help] :
         {std::tuple{"envcache_hot_bytes", "gauge", t.hot.bytes,
                     "Bytes of small blobs held in memory (the hot tier)."},
          std::tuple{"envcache_hot_max_bytes", "gauge", t.hot.max_bytes,
                     "The hot tier's limit (storage.hot.max_size); 0: off."},
          std::tuple{"envcache_hot_blobs", "gauge", t.hot.blobs, "Blobs in the hot tier."},
          std::tuple{"envcache_hot_hits_total", "counter", t.hot.hits,
                     "Blob requests answered from the hot tier."},
          std::tuple{"envcache_hot_fills_total", "counter", t.hot.fills,
                     "Blobs copied from the store into the hot tier."},
          std::tuple{"envcache_hot_fill_errors_total", "counter", t.hot.fill_errors,
                     "Copies into the hot tier that failed (unreadable, wrong digest, no memory)."},
          std::tuple{"envcache_hot_evictions_total", "counter", t.hot.evictions,
                     "Blobs the hot tier let go to stay within its limits."},
          std::tuple{"envcache_connections", "gauge", t.server.connections,
                     "Client connections open."},
          std::tuple{"envcache_loops", "gauge", t.server.loops,
                     "The server's connection loops (threads)."},
          std::tuple{"envcache_loops_active", "gauge", t.server.active_loops,
                     "Connection loops that take connections now (server.scale_loops)."}}) {
        out.family(family, type, help);
        out.sample(static_cast<double>(value));
    }
    AdminResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = out.take();
    return r;
}

AdminResponse AdminApi::get_limits() const {
    return json_response(200, to_json(m_evictor.limits()));
}

AdminResponse AdminApi::put_limits(std::string_view body) const {
    auto limits = parse_limits_body(body, m_evictor.limits());
    if (auto* refused = std::get_if<AdminResponse>(&limits)) return std::move(*refused);
    if (auto problem = m_evictor.set_limits(std::get<Limits>(limits)))
        return admin_error(500, "INTERNAL", *problem);
    return json_response(200, to_json(m_evictor.limits()));
}

AdminResponse AdminApi::delete_limits() const {
    if (auto problem = m_evictor.reset_limits()) return admin_error(500, "INTERNAL", *problem);
    return json_response(200, to_json(m_evictor.limits()));
}

AdminResponse AdminApi::get_pins() const {
    json::array pins;
    for (const auto& p : m_evictor.pins())
        pins.push_back(pin_json(p));
    json::object o;
    o["pins"] = std::move(pins);
    return json_response(200, o);
}

AdminResponse AdminApi::add_pin(std::string_view body) const {
    auto parsed = parse_pin_body(body);
    if (auto* refused = std::get_if<AdminResponse>(&parsed)) return std::move(*refused);
    const std::string pin = std::move(std::get<std::string>(parsed));
    if (auto problem = validate_pin(pin)) return admin_error(400, "INVALID_PIN", *problem);
    switch (m_evictor.add_pin(pin)) {
        case PinChange::done:
            break;
        case PinChange::exists:
            return admin_error(409, "CONFLICT", "already pinned: " + pin);
        case PinChange::store_error:
            return admin_error(500, "INTERNAL", "could not save the pins");
        default:
            return admin_error(400, "INVALID_PIN", "not a pin: " + pin);
    }
    for (const auto& p : m_evictor.pins())
        if (p.pin == pin) return json_response(201, pin_json(p));
    return json_response(201, pin_json({pin, false, std::nullopt}));
}

AdminResponse AdminApi::remove_pin(std::string_view pin) const {
    switch (m_evictor.remove_pin(std::string(pin))) {
        case PinChange::done: {
            json::object o;
            o["removed"] = pin;
            return json_response(200, o);
        }
        case PinChange::from_config:
            return admin_error(409, "CONFLICT",
                               "pinned by the config file; remove it there: " + std::string(pin));
        case PinChange::store_error:
            return admin_error(500, "INTERNAL", "could not save the pins");
        default:
            return admin_error(404, "NOT_FOUND", "not pinned: " + std::string(pin));
    }
}

AdminResponse AdminApi::evict(std::string_view body) const {
    auto parsed = parse_evict_body(body);
    if (auto* refused = std::get_if<AdminResponse>(&parsed)) return std::move(*refused);
    const auto& [dry_run, target, digest] = std::get<EvictRequest>(parsed);
    if (target)
        return json_response(200, result_json(m_evictor.evict_to(*target, dry_run), dry_run));

    std::uint64_t bytes = 0;
    EvictionResult r;
    const auto used = m_evictor.stats().usage.used_bytes;
    r.used_before = used;
    switch (m_evictor.evict_digest(*digest, dry_run, &bytes)) {
        case Evictor::DigestEviction::removed:
        case Evictor::DigestEviction::would_remove:
            r.removed.push_back({*digest, bytes, "admin"});
            break;
        case Evictor::DigestEviction::not_found:
            return admin_error(404, "BLOB_UNKNOWN", "not in the store: " + digest->str());
        case Evictor::DigestEviction::pinned:
            return admin_error(409, "CONFLICT", "protected by a pin: " + digest->str());
        case Evictor::DigestEviction::in_use:
            return admin_error(409, "CONFLICT",
                               "being read or fetched right now: " + digest->str());
        case Evictor::DigestEviction::store_error:
            return admin_error(500, "INTERNAL", "the store failed; see the server log");
    }
    r.used_after = dry_run ? (used > bytes ? used - bytes : 0) : m_evictor.stats().usage.used_bytes;
    return json_response(200, result_json(r, dry_run));
}

}  // namespace proxy
