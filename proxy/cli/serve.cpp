#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <signal.h>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/load.hpp"
#include "config/units.hpp"
#include "proxy/admin/admin_api.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/store_setup.hpp"
#include "proxy/environments/environment_routes.hpp"
#include "proxy/environments/upstream_resolver.hpp"
#include "proxy/evict/evictor.hpp"
#include "proxy/fetch/fetcher.hpp"
#include "proxy/log.hpp"
#include "proxy/metrics.hpp"
#include "proxy/registry/registry_handler.hpp"
#include "proxy/server/server.hpp"
#include "proxy/upstream/upstream_client.hpp"
#include "store/allocator.hpp"
#include "store/blob_store.hpp"

namespace proxy::cli {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view k_serve_usage = "usage: envcache serve --config FILE\n";

// The fetcher's view of an evictor reservation; nullptr when there is none.
std::unique_ptr<fetch::Fetcher::Room> reserved_room(Evictor::Reservation reservation) {
    class EvictorRoom final : public fetch::Fetcher::Room {
      public:
        explicit EvictorRoom(Evictor::Reservation r) : m_reservation(std::move(r)) {}
        void shrink_to(std::uint64_t bytes) override { m_reservation.shrink_to(bytes); }

      private:
        Evictor::Reservation m_reservation;
    };
    if (!reservation) return nullptr;
    return std::make_unique<EvictorRoom>(std::move(reservation));
}

// Waits until every connection closed or the grace period ran out, then stops the loop.
net::awaitable<void> drain(net::io_context& ioc, server::Server& server,
                           std::chrono::seconds grace) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    net::steady_timer timer(co_await net::this_coro::executor);
    while (server.connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
    if (server.connections() > 0)
        log_line("shutdown: " + std::to_string(server.connections()) +
                 " connection(s) still open after the grace period; closing");
    ioc.stop();
}

}  // namespace

int serve(Args args) {
    store::keep_chunk_buffers_in_heap();
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

    store::RecoveryReport recovery;
    const std::unique_ptr<store::BlobStore> store = open_configured_store(config, recovery);
    if (!store) return 1;
    log_line("store " + config.storage.path.string() + ": " + std::to_string(recovery.blobs) +
             " blobs, " + std::to_string(recovery.partial_removed) + " partial removed");

    const unsigned threads =
        config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
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
    fetch::Fetcher fetcher(ioc.get_executor(), *store, metrics,
                           {config.storage.path / "tmp", 2, 1024});
    registry::RegistryHandler registry(config, *store, client_ptrs, fetcher, metrics);

    EvictorOptions evictor_options;
    evictor_options.limits = limits_from_config(config.storage, config.eviction);
    evictor_options.config_pins = config.eviction.pins;
    Evictor evictor(*store, std::move(evictor_options));
    if (auto rebuilt = evictor.rebuild(); !rebuilt)
        log_line("evictor: rebuild from the store failed: " + rebuilt.error().message());
    evictor.start();
    fetcher.set_on_stored([&evictor](const store::Digest& digest, std::uint64_t size) {
        evictor.on_inserted(digest, size);
    });
    // Reserving room may evict synchronously: that part runs off the io threads.
    net::thread_pool reserve_pool(1);
    fetcher.set_reserve(
        [&evictor](std::uint64_t bytes) { return reserved_room(evictor.try_reserve(bytes)); },
        [&evictor](std::uint64_t bytes) { return reserved_room(evictor.reserve(bytes)); },
        reserve_pool.get_executor());
    registry.set_evictor(&evictor);

    const AdminApi admin(evictor, config.admin_token,
                         [&metrics] { return traffic_stats(metrics); });
    // Admin calls do synchronous store work (eviction runs, pin resolution): off the io threads.
    net::thread_pool admin_pool(1);

    environments::EnvironmentContext environments_context(
        *store, environments::make_upstream_resolver(config.upstreams, client_ptrs),
        [&evictor](const std::string& hash) {
            const PinChange change = evictor.add_pin(hash);
            return change == PinChange::done || change == PinChange::exists ||
                   change == PinChange::from_config;
        });
    const environments::RegistryCall registry_call =
        [&registry](server::Exchange& inner) -> net::awaitable<void> {
        co_await registry.handle(inner);
    };

    const auto handler = [&](server::Exchange& ex) -> net::awaitable<void> {
        boost::system::error_code peer_ec;
        const auto peer = ex.stream.socket().remote_endpoint(peer_ec).address();
        const std::string_view target = ex.request.target();
        const AdminRequest admin_request{ex.request.method_string(), target, ex.request.body(),
                                         peer, ex.request[http::field::authorization]};
        if (co_await environments::serve_environment_pull(ex, *store, registry_call)) co_return;
        // Curated environments live under the admin prefix and need the admin's access.
        const bool curated = environments::is_curated_path(target);
        std::optional<AdminResponse> refused;
        if (curated) refused = admin.check_access(admin_request);
        if (!refused) {
            if (co_await environments::serve_environment_api(ex, environments_context, curated))
                co_return;
        }
        if (refused || AdminApi::is_admin_path(target)) {
            AdminResponse response;
            if (refused) {
                response = std::move(*refused);
            } else {
                // Named, not a temporary: GCC 12 mishandles temporaries in co_await expressions.
                auto call_admin = [&]() -> net::awaitable<AdminResponse> {
                    co_return admin.handle(admin_request);
                };
                response = co_await net::co_spawn(admin_pool, call_admin, net::use_awaitable);
            }
            http::fields headers;
            headers.set(http::field::content_type, response.content_type);
            for (const auto& [name, value] : response.headers)
                headers.set(name, value);
            const auto status = static_cast<http::status>(response.status);
            co_await server::send_response(ex, status, headers, response.body);
            co_return;
        }
        if (target.starts_with("/v2")) {
            co_await registry.handle(ex);
        } else {
            const auto error = registry::not_found();
            co_await server::send_error(ex, error);
        }
    };
    server::Server server(ioc, config.server, handler);

    auto bound = server.listen(listen->host, listen->port);
    if (!bound) {
        std::cerr << "envcache: cannot listen on " << config.listen << ": "
                  << bound.error().message() << "\n";
        return 1;
    }
    // Signals are caught from here on, before anyone is told where to connect.
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        log_line(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": stopping");
        server.stop();
        net::co_spawn(ioc, drain(ioc, server, config.server.shutdown_grace),
                      [](std::exception_ptr e) {
                          if (e) std::rethrow_exception(e);
                      });
    });

    const std::string address = bound->address().is_v6() ? "[" + bound->address().to_string() + "]"
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

    evictor.stop();
    if (auto flushed = store->flush(); !flushed)
        log_line("shutdown: store flush failed: " + flushed.error().message());
    log_line("stopped");
    std::fflush(nullptr);
    // Downloads still suspended in the loop hold upstream responses and store writers; tearing
    // them down in order is not worth the risk at exit. Everything durable is flushed above.
    std::_Exit(0);
}

}  // namespace proxy::cli
