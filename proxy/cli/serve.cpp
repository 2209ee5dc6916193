#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <signal.h>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cache/cache.hpp"
#include "config/load.hpp"
#include "config/units.hpp"
#include "proxy/access/identities.hpp"
#include "proxy/access/policy.hpp"
#include "proxy/admin/admin_api.hpp"
#include "proxy/cli/access_gate.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/routes.hpp"
#include "proxy/cli/store_setup.hpp"
#include "proxy/environments/environment_routes.hpp"
#include "proxy/environments/upstream_resolver.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/log.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/registry_handler.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/server/server.hpp"
#include "proxy/server/tls_context.hpp"
#include "proxy/upstream/upstream_client.hpp"
#include "store/allocator.hpp"
#include "store/blob_store.hpp"

namespace proxy::cli {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

// The counters, with each upstream's breaker and retry budget added.
TrafficStats traffic_with_health(Metrics& metrics, const std::vector<upstream::Client*>& clients) {
    TrafficStats t = traffic_stats(metrics);
    for (const upstream::Client* client : clients) {
        const upstream::Health* health = client->health();
        if (!health) continue;
        const upstream::Health::Snapshot s = health->snapshot();
        auto& counters = t.upstreams[client->config().name];
        counters["circuit_opened"] = s.opened;
        counters["circuit_refused"] = s.refused;
        counters["retries"] = s.retries;
        counters["retries_refused"] = s.retries_refused;
        t.circuits[client->config().name] = std::string(upstream::to_string(s.state));
    }
    return t;
}

constexpr std::string_view k_serve_usage = "usage: envcache serve --config FILE\n";

// Shutdown: stop accepting, let responses in flight finish until the grace period is nearly
// over, then end the connections still open and cancel and await every download. The loop then
// runs out of work and serve() tears down in order.
net::awaitable<void> shut_down(server::Server& server, fetch::Fetcher& fetcher,
                               net::signal_set& signals, std::chrono::seconds grace) {
    server.stop();
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + grace;
    // What teardown needs of the grace period: cancelled downloads end at once.
    const auto reserve =
        std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(2), grace / 4);
    net::steady_timer timer(co_await net::this_coro::executor);
    while (server.connections() > 0 && std::chrono::steady_clock::now() < deadline - reserve) {
        timer.expires_after(std::chrono::milliseconds(20));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
    if (server.connections() > 0) {
        log_line("shutdown: " + std::to_string(server.connections()) +
                 " connection(s) still open after the grace period; closing");
        server.close_all();
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<std::chrono::steady_clock::duration>(deadline - std::chrono::steady_clock::now(),
                                                      std::chrono::milliseconds(500)));
    auto cancelling = fetcher.shutdown(left);
    if (!co_await std::move(cancelling))
        log_line("shutdown: downloads still running after the grace period");
    boost::system::error_code ignored;
    signals.cancel(ignored);
}

// A new TLS context from the certificate and key files as they are now, for the connections
// accepted from here on; on failure the previous one stays.
void reload_tls(server::Server& server, const config::TlsConfig& tls) {
    if (!tls.enabled()) {
        log_line("received SIGHUP: no TLS certificate to reload (server.tls is not set)");
        return;
    }
    auto context = server::make_tls_context(tls);
    if (!context) {
        log_line("received SIGHUP: tls: " + context.error() + "; keeping the previous certificate");
        return;
    }
    server.set_tls_context(std::move(*context));
    log_line("received SIGHUP: tls: reloaded " + tls.cert_file.string() + " and " +
             tls.key_file.string() + " for new connections");
}

// SIGHUP reloads the TLS certificate; SIGINT or SIGTERM shuts down (once).
net::awaitable<void> handle_signals(net::signal_set& signals, server::Server& server,
                                    fetch::Fetcher& fetcher, const config::Config& config) {
    for (;;) {
        auto [ec, signal] = co_await signals.async_wait(net::as_tuple(net::use_awaitable));
        if (ec) co_return;
        if (signal == SIGHUP) {
            reload_tls(server, config.server.tls);
            continue;
        }
        log_line(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": stopping");
        co_await shut_down(server, fetcher, signals, config.server.shutdown_grace);
        co_return;
    }
}

// Raises the soft limit of open files to the hard one (connections, upstream sockets and hot
// blobs each hold one), and returns how many the hot tier may hold: a quarter of what is left
// after two per connection and 256 more, at most 4096.
std::size_t hot_file_budget(std::size_t max_connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    const auto open = static_cast<std::uint64_t>(limit.rlim_cur);
    const std::uint64_t spare =
        open > 2 * max_connections + 256 ? open - 2 * max_connections - 256 : 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(4096, spare / 4));
}

}  // namespace

int serve(Args args) {
    store::keep_chunk_buffers_in_heap();
    // A write to a connection the client has closed must fail with EPIPE, not kill the
    // process: sendfile(2), unlike send, has no MSG_NOSIGNAL.
    ::signal(SIGPIPE, SIG_IGN);
    const auto path = config_path(args);
    if (!path) {
        std::cerr << k_serve_usage;
        return 2;
    }
    auto loaded = config::load(*path);
    if (!loaded) {
        std::cerr << "envcache: " << loaded.error().message() << "\n";
        return 2;
    }
    const config::Config config = std::move(*loaded);
    const auto listen = config::parse_host_port(config.listen);
    if (!listen) {
        std::cerr << "envcache: listen: " << listen.error().message << "\n";
        return 2;
    }
    if (config.upstreams.empty()) {
        std::cerr << "envcache: no upstreams configured\n";
        return 2;
    }

    const access::Policy policy(config);
    std::unique_ptr<access::Identities> identities;
    try {
        identities = std::make_unique<access::Identities>(config.access);
    } catch (const std::exception& e) {
        std::cerr << "envcache: access: " << e.what() << "\n";
        return 2;
    }
    for (const auto& name : policy.anonymous_pulls_with_credentials(config.upstreams))
        log_line("warning: anonymous callers may pull from upstream " + name +
                 ", which has credentials: its private content is anyone's (see access)");

    store::RecoveryReport recovery;
    std::unique_ptr<store::BlobStore> opened = open_configured_store(config, recovery);
    if (!opened) return 1;
    log_line("store " + config.storage.path.string() + ": " + std::to_string(recovery.blobs) +
             " blobs, " + std::to_string(recovery.partial_removed) + " partial removed, " +
             "large chunks read by " + recovery.read_path);

    cache::Cache::Options cache_options;
    cache_options.evictor.limits = cache::limits_from_config(config.storage, config.eviction);
    cache_options.evictor.config_pins = config.eviction.pins;
    cache_options.evictor.log = [](std::string_view line) {
        log_line("evictor: " + std::string(line));
    };
    cache_options.blob_nice = config.storage.background_nice;
    cache_options.hot.max_bytes = config.storage.hot.max_size;
    cache_options.hot.max_blob_bytes = config.storage.hot.max_blob;
    cache_options.hot.max_files = hot_file_budget(config.server.max_connections);
    if (config.storage.hot.max_size > 0)
        log_line("hot tier: " + config::format_size(config.storage.hot.max_size) +
                 " for blobs of at most " + config::format_size(config.storage.hot.max_blob) +
                 ", " + std::to_string(cache_options.hot.max_files) + " open files");
    // Destroyed last: everything below uses it, and its destructor flushes the store.
    cache::Cache core(std::move(opened), std::move(cache_options));
    if (auto started = core.start(); !started)
        log_line("evictor: rebuild from the store failed: " + started.error().message());

    const unsigned threads =
        config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
    // The loop and everything that runs on it live in this scope, so that every coroutine has
    // ended before the objects it uses are destroyed (in reverse order, the loop last of them).
    {
        net::io_context ioc(static_cast<int>(threads));

        std::vector<std::unique_ptr<upstream::Client>> clients;
        std::vector<upstream::Client*> client_ptrs;
        std::vector<std::string> names;
        for (const auto& u : config.upstreams) {
            clients.push_back(upstream::make_client(ioc.get_executor(), u));
            client_ptrs.push_back(clients.back().get());
            names.push_back(u.name);
        }
        Metrics metrics(names);
        fetch::Fetcher fetcher(ioc.get_executor(), core, metrics,
                               {config.storage.path / "tmp", 2, 1024});
        const registry::PullAccess pull_access{policy, *identities,
                                               config.server.tls.enabled() ? "https" : "http"};
        const AccessGate gate{pull_access};
        registry::RegistryHandler registry(config, core, client_ptrs, fetcher, metrics,
                                           &pull_access);

        // Set once the server is made, before it takes the first request.
        const server::Server* serving = nullptr;
        const AdminApi admin(core.evictor(), config.admin_token,
                             [&metrics, &client_ptrs, &core, &serving] {
                                 TrafficStats traffic = traffic_with_health(metrics, client_ptrs);
                                 traffic.hot = core.hot_stats();
                                 if (serving) {
                                     traffic.server = {serving->connections(), serving->loops(),
                                                       serving->active_loops()};
                                 }
                                 return traffic;
                             });
        environments::EnvironmentContext environments_context(
            core.store(), environments::make_upstream_resolver(config.upstreams, client_ptrs),
            [&core](const std::string& hash) {
                const cache::PinChange change = core.evictor().add_pin(hash);
                return change == cache::PinChange::done || change == cache::PinChange::exists ||
                       change == cache::PinChange::from_config;
            });
        const environments::RegistryCall registry_call = [&registry](server::Exchange& inner) {
            return registry.handle(inner);
        };
        const auto admin_request = [&gate, &policy](server::Exchange& ex) {
            boost::system::error_code peer_ec;
            const auto peer = ex.stream.socket().remote_endpoint(peer_ec).address();
            const bool granted = policy.is_admin(gate.identify(ex));
            return AdminRequest{ex.request.method_string(),
                                ex.request.target(),
                                ex.request.body(),
                                peer,
                                ex.request[http::field::authorization],
                                granted};
        };
        // The environment API: reads need `read`, everything else `write`.
        const auto environments_allowed = [&gate,
                                           &policy](server::Exchange& ex) -> net::awaitable<bool> {
            const access::Caller caller = gate.identify(ex);
            const auto method = ex.request.method();
            const bool reads = method == http::verb::get || method == http::verb::head;
            const bool allowed = reads ? policy.may_read_environments(caller)
                                       : policy.may_write_environments(caller);
            co_return co_await gate.admit(ex, caller, allowed);
        };

        Endpoints endpoints;
        endpoints.registry = registry_call;
        endpoints.environment_pull = [&](server::Exchange& ex) -> net::awaitable<void> {
            const access::Caller caller = gate.identify(ex);
            auto admitting = gate.admit(ex, caller, policy.may_read_environments(caller));
            if (!co_await std::move(admitting)) co_return;
            auto serving = environments::serve_environment_pull(ex, core.store(), registry_call);
            if (co_await std::move(serving)) co_return;
            auto handling = registry.handle(ex);
            co_await std::move(handling);
        };
        endpoints.environments = [&](server::Exchange& ex) -> net::awaitable<void> {
            auto admitting = environments_allowed(ex);
            if (!co_await std::move(admitting)) co_return;
            co_await environments::serve_environment_api(ex, environments_context, false,
                                                         core.records_executor());
        };
        // Curated environments live under the admin prefix and need the admin's access.
        endpoints.curated = [&](server::Exchange& ex) -> net::awaitable<void> {
            if (const auto refused = admin.check_access(admin_request(ex))) {
                co_await server::send_response(ex, *refused);
                co_return;
            }
            co_await environments::serve_environment_api(ex, environments_context, true,
                                                         core.records_executor());
        };
        // Admin calls do synchronous store work (eviction runs, pin resolution): off the io
        // threads, on the cache's records thread.
        endpoints.admin = [&](server::Exchange& ex) -> net::awaitable<void> {
            const AdminRequest request = admin_request(ex);
            auto calling = core.on_records([&admin, &request] { return admin.handle(request); });
            const AdminResponse response = co_await std::move(calling);
            co_await server::send_response(ex, response);
        };
        endpoints.token = [&gate](server::Exchange& ex) -> net::awaitable<void> {
            co_await gate.serve_token(ex);
        };
        const server::Router router = make_router(std::move(endpoints));
        // Connections run on `threads` loops of the server's own, downloads and timers on
        // `ioc`'s `threads` threads.
        server::Server server(
            ioc, config.server, [&router](server::Exchange& ex) { return router(ex); }, threads);
        serving = &server;

        auto bound = server.listen(listen->host, listen->port);
        if (!bound) {
            std::cerr << "envcache: cannot listen on " << config.listen << ": "
                      << bound.error().message() << "\n";
            return 1;
        }
        if (config.server.tls.enabled()) {
            auto context = server::make_tls_context(config.server.tls);
            if (!context) {
                std::cerr << "envcache: server.tls: " << context.error() << "\n";
                return 2;
            }
            server.set_tls_context(std::move(*context));
        } else if (!bound->address().is_loopback()) {
            log_line("warning: listening on " + config.listen +
                     " beyond loopback without TLS: tokens and images travel in clear (set "
                     "server.tls)");
        }
        // Signals are caught from here on, before anyone is told where to connect.
        net::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
        net::co_spawn(ioc, handle_signals(signals, server, fetcher, config),
                      [](std::exception_ptr e) {
                          if (e) std::rethrow_exception(e);
                      });

        const std::string address = bound->address().is_v6()
                                        ? "[" + bound->address().to_string() + "]"
                                        : bound->address().to_string();
        const std::string line = "listening on " + address + ":" + std::to_string(bound->port());
        std::cout << line << std::endl;
        log_line(line);
        server.start();

        std::vector<std::thread> workers;
        for (unsigned i = 1; i < threads; ++i)
            workers.emplace_back([&ioc] { ioc.run(); });
        ioc.run();
        for (auto& worker : workers)
            worker.join();
    }
    if (auto flushed = core.flush(); !flushed)
        log_line("shutdown: store flush failed: " + flushed.error().message());
    log_line("stopped");
    return 0;
}

}  // namespace proxy::cli
