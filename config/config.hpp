#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace config {

// Sizes are bytes; durations are whole seconds (0 = none / disabled).
using Seconds = std::chrono::seconds;

struct CompressionConfig {
    int level = 3;             // zstd level, 1..19
    double min_saving = 0.10;  // keep a chunk compressed only if it saves at least this fraction
};

// The hot tier: small blobs kept whole in memory and sent with sendfile (cache/hot_blobs.hpp).
struct HotConfig {
    std::uint64_t max_size = 256ull << 20;  // memory for hot blobs; 0 turns the tier off
    std::uint64_t max_blob = 1ull << 20;    // larger blobs are always read from the store
};

struct StorageConfig {
    std::filesystem::path path = "./data";
    std::uint64_t max_size = 20ull << 30;
    std::uint64_t map_size = 0;  // the LMDB map; 0: twice max_size, at least 64 MiB
    double high_watermark = 0.95;
    double low_watermark = 0.85;
    // Added to the nice value of the threads that write the store (commits, hashing and
    // compressing downloads, hot-tier copies), 0..19: under CPU contention the loops that
    // answer requests run first. 0 runs them alike.
    int background_nice = 10;
    CompressionConfig compression;
    HotConfig hot;
};

struct EvictionConfig {
    std::string policy = "s3fifo";  // lru | lfu | s3fifo | sieve | wtinylfu
    Seconds max_age{0};
    std::vector<std::string> pins;  // image references or environment hashes
};

struct UpstreamConfig {
    std::string name;  // e.g. "docker.io"; also what `?ns=` and a path prefix match
    std::string url;   // e.g. "https://registry-1.docker.io"
    bool is_default = false;
    Seconds tag_ttl{300};
    std::string username;
    std::string password_env;
    std::string password_file;
    std::string ca_file;
    bool insecure_skip_verify = false;
    Seconds connect_timeout{10};
    Seconds read_timeout{60};  // headers, and inactivity while reading a body
    unsigned retries = 3;      // attempts after the first, only while no byte reached a client
    // Retries within a budget: each request earns retry_budget of a retry (the balance starts
    // at, and never exceeds, a small floor), so retries stay near this share of requests.
    double retry_budget = 0.2;
    // The HEAD that revalidates a stale tag gives up after this (connect and answer together)
    // and is not retried: the stale copy is served instead.
    Seconds revalidate_timeout{3};
    // Past tag_ttl but within this: the stale manifest is served at once and the tag is
    // revalidated in the background (0 = off: the client waits for the revalidation).
    Seconds stale_while_revalidate{0};
    // A 404 for a tag is remembered this long; asks within it get the 404 from here (0 = off).
    Seconds negative_ttl{5};
    // The circuit breaker: opens after this many consecutive failures or timeouts (0 = never),
    // lets one probe through after breaker_probe_interval.
    unsigned breaker_failures = 3;
    Seconds breaker_probe_interval{10};
    // shared: envcache's own credentials fetch, its `access` rules decide who reads.
    // passthrough: the caller's credentials go upstream, and the upstream decides.
    enum class Access { shared, passthrough };
    Access access = Access::shared;
    Seconds decision_ttl{60};  // passthrough: how long an upstream's "yes" is trusted
    Seconds denial_ttl{10};    // passthrough: how long its "no" is (at most decision_ttl)

    // The password from password_env or password_file; empty if neither is set. Never logged.
    std::string password() const;
};

// Who must show a client certificate during the TLS handshake.
enum class ClientAuth {
    none,      // none is asked for
    optional,  // asked for; a client without one is served, one with a bad one is refused
    require,   // a client without a certificate the client CA signed is refused
};

// `server.tls`: HTTPS on the listener. Without a cert_file the listener speaks plain HTTP. The
// loader checks that the files parse and that the key belongs to the certificate.
struct TlsConfig {
    std::filesystem::path cert_file;       // PEM: the server certificate, then any intermediates
    std::filesystem::path key_file;        // PEM: its private key (unencrypted)
    std::filesystem::path client_ca_file;  // PEM: CAs that sign client certificates
    ClientAuth client_auth = ClientAuth::none;
    std::string min_version = "1.2";  // "1.2" | "1.3"

    bool enabled() const { return !cert_file.empty(); }
};

struct ServerConfig {
    std::size_t max_connections = 1024;
    Seconds header_timeout{30};  // a request's headers must arrive within this (slow-loris)
    Seconds idle_timeout{120};   // keep-alive connection with no request / stalled write
    Seconds shutdown_grace{30};  // in-flight responses get this long after SIGTERM
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 4 * 1024 * 1024;  // API request bodies (environment bundles)
    // Connections use as few of the `threads` loops as their load needs (a loop is added while
    // the active ones are saturated and a CPU is idle); false: every loop takes connections.
    bool scale_loops = true;
    TlsConfig tls;
};

// One rule of the `access` section: what the callers it names may do. Rules add up.
struct AccessRule {
    // Identity names, "group:<name>", "anonymous" (no credentials) or "authenticated" (any
    // known identity).
    std::vector<std::string> who;
    struct Pull {
        std::string upstream;            // an upstream's name, or "*" for every upstream
        std::vector<std::string> repos;  // globs: '*' within a path component, '**' across
    };
    std::vector<Pull> pull;
    enum class Environments { none, read, write };
    Environments environments = Environments::none;
    bool admin = false;
};

// The `access` section. Absent (enabled == false): every caller may do what it could before
// (pull, environment API; admin by admin_token).
struct AccessConfig {
    bool enabled = false;
    std::string htpasswd_file;      // bcrypt entries, as `htpasswd -B` writes them
    std::string tokens_file;        // "<identity> <token>" lines
    Seconds issued_token_ttl{900};  // bearer tokens envcache's token endpoint issues
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // name -> members
    std::vector<AccessRule> rules;
};

// The whole configuration, loaded and validated by config::load() (config/load.hpp); key names
// and defaults are documented in config/envcache.yml.
struct Config {
    std::string listen = "127.0.0.1:5000";  // host:port
    unsigned threads = 0;                   // 0 = number of cores
    StorageConfig storage;
    EvictionConfig eviction;
    std::vector<UpstreamConfig> upstreams;
    bool prefetch = true;
    ServerConfig server;
    std::string admin_token;  // empty: admin API on loopback only
    // Where admin_token came from, if not inline: the loader reads it from this environment
    // variable or file into admin_token (at most one of the three is set).
    std::string admin_token_env;
    std::string admin_token_file;
    AccessConfig access;

    // The file this was loaded from, for messages; empty for a default-constructed value.
    std::filesystem::path source;

    // The upstream marked `default`, if any.
    const UpstreamConfig* default_upstream() const;
};

}  // namespace config
