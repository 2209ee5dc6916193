#pragma once
// The admin API (/api/v1/admin/...) as plain request -> response functions, independent of the
// HTTP server: stats (as JSON, and for Prometheus), live limits, pins and on-demand eviction.
//
// Access: without an admin token only loopback callers are served (others get 403); with a
// token every caller must send `Authorization: Bearer <token>` (401 otherwise), loopback too.
// Errors are OCI-style: {"errors":[{"code":"DENIED","message":"..."}]}.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "cache/evictor.hpp"
#include "cache/hot_blobs.hpp"
#include "proxy/admin/admin_requests.hpp"
#include "proxy/metrics.hpp"
#include "proxy/server/api_error.hpp"

namespace proxy {

using cache::Evictor;

// Traffic counters kept by the server, read for GET /api/v1/admin/stats.
struct TrafficStats {
    std::uint64_t hits = 0;    // requests served from the store
    std::uint64_t misses = 0;  // requests that went upstream
    std::uint64_t bytes_from_cache = 0;
    std::uint64_t bytes_from_upstream = 0;
    // Per upstream name, any counters by name ({"docker.io": {"requests": 3, "errors": 0}}).
    std::map<std::string, std::map<std::string, std::uint64_t>> upstreams;
    // Per upstream name, its circuit breaker's state: closed | open | half_open.
    std::map<std::string, std::string> circuits;
    // The hot tier of small blobs in memory (cache/hot_blobs.hpp).
    cache::HotBlobs::Stats hot;
    // The listener: open client connections, its connection loops, and how many of them take
    // connections now (server.scale_loops).
    struct Server {
        std::uint64_t connections = 0;
        std::uint64_t loops = 0;
        std::uint64_t active_loops = 0;
    } server;
};

// The server's pull-path counters as TrafficStats: totals, and every counter per upstream.
TrafficStats traffic_stats(Metrics& metrics);

struct AdminRequest {
    std::string_view method;  // "GET", "PUT", ...
    std::string_view target;  // request target as received: "/api/v1/admin/pins?x=y"
    std::string_view body;
    boost::asio::ip::address peer;
    std::string_view authorization;  // the Authorization header, empty if absent
    bool granted = false;            // the access rules make the caller an admin
};

class AdminApi {
  public:
    static constexpr std::string_view k_prefix = "/api/v1/admin";

    // `admin_token` empty: loopback only. `traffic` may be empty (counters reported as 0).
    AdminApi(Evictor& evictor, std::string admin_token, std::function<TrafficStats()> traffic);

    // True if the path (without query) belongs to the admin API.
    static bool is_admin_path(std::string_view target);

    // The 401/403 answer for a caller that may not use admin endpoints; nullopt if it may.
    // Also used for admin paths served elsewhere (curated environments).
    std::optional<AdminResponse> check_access(const AdminRequest& request) const;

    AdminResponse handle(const AdminRequest& request) const;

  private:
    AdminResponse stats() const;
    AdminResponse metrics() const;  // the same figures in Prometheus' text format
    AdminResponse get_limits() const;
    AdminResponse put_limits(std::string_view body) const;
    AdminResponse delete_limits() const;
    AdminResponse get_pins() const;
    AdminResponse add_pin(std::string_view body) const;
    AdminResponse remove_pin(std::string_view pin) const;
    AdminResponse evict(std::string_view body) const;

    Evictor& m_evictor;
    std::string m_token;
    std::function<TrafficStats()> m_traffic;
};

// True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1).
bool is_loopback(const boost::asio::ip::address& address);

}  // namespace proxy
