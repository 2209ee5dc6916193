#pragma once
// The HTTP/1.1 listener, plain or TLS: accepts connections up to a bound, runs each with
// keep-alive, timeouts and parser limits, hands every request to one handler and logs it.
//
// Where connections run: with `loops` > 0, on the server's own single-threaded event loops
// (one thread each), so that a request's reads, handler and writes stay on one thread: no
// strand and no wake-up of another thread per step. Work a handler starts elsewhere (downloads
// on the main io_context, store work on the cache's threads) completes back on the connection's
// loop. With `loops` == 0, each connection runs on a strand of the main io_context.
//
// Which loops: the first `active` ones take connections, each new one the active loop with the
// fewest. With config.scale_loops, a timer sets `active` every 250 ms from what the loops and
// the machine did (LoopPolicy, loop_scaling.hpp): one loop while one is enough or no CPU is idle
// for more. Connections follow between requests: a loop with more than an equal share of the
// working connections (answering a request, or done with one in the last two periods) hands the
// extra ones, each after its response, to the active loop with the fewest.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "proxy/server/exchange.hpp"

namespace proxy::server {

class Server {
  public:
    using Handler = std::function<net::awaitable<void>(Exchange&)>;

    // `ioc` runs the acceptor, and stays busy (cannot run out of work) while a connection is
    // open, so that its run() returns only after every session has ended.
    Server(net::io_context& ioc, const config::ServerConfig& config, Handler handler,
           unsigned loops = 0);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    // Ends every connection still open and joins the loops' threads.
    ~Server();

    // Binds and listens; returns the bound endpoint (port 0 picks a free port).
    boost::system::result<net::ip::tcp::endpoint> listen(const std::string& host,
                                                         std::uint16_t port);
    // Serves TLS with `context` on connections accepted from now on (null: plain HTTP).
    // Connections already open keep the context they began with. Safe to call from any thread.
    void set_tls_context(std::shared_ptr<net::ssl::context> context) {
        m_tls.store(std::move(context));
    }
    // Starts accepting; call once after listen().
    void start();
    // Stops accepting and closes idle connections; busy ones close after their response.
    // Safe to call from any thread.
    void stop();
    // Ends every connection now, busy or not: what its handler awaits is cancelled and its
    // socket closed. For the end of the shutdown grace. Safe to call from any thread.
    void close_all();
    // Open connections.
    std::size_t connections() const { return m_active.load(); }
    // Loops that take connections now (1..loops; 0 without loops of its own).
    unsigned active_loops() const { return m_active_loops.load(); }
    // The loops of its own (0: connections run on strands of the main io_context).
    std::size_t loops() const { return m_loops.size(); }
    // Sets the loops that take connections (clamped to 1..loops) and has the others' connections,
    // and any over an equal share, move between requests. The scaling timer calls it; so may a
    // test, with config.scale_loops false. Safe to call from any thread.
    void set_active_loops(unsigned active);

    // What one period of config.scale_loops measured: each loop's share of a CPU, and the idle
    // CPUs this process may use (nullopt: not known this period).
    struct LoadSample {
        std::vector<double> busy;
        std::optional<double> idle_cpus;
    };
    // For tests: the scaling timer takes its samples from `measure` instead of the loops' CPU
    // clocks and IdleCpus. Call before start().
    void measure_load_with(std::function<LoadSample()> measure) { m_measure = std::move(measure); }

  private:
    struct Connection;
    struct Loop;

    // The loop the next connection runs on: the active one with the fewest connections.
    std::size_t next_loop() const;
    // Lets the loops' threads end once their connections have (idempotent).
    void release_loops();
    // Sets each loop's count of connections to hand over (shed_counts).
    void rebalance();
    // Where a connection on loop `from` should move after its response, if anywhere.
    std::optional<std::size_t> move_target(std::size_t from);
    enum class Moved { yes, stays, lost };
    // Moves `connection` to loop `to`, on its present loop's thread between requests: `stays`
    // when the loops are being released or its socket could not leave, `lost` when the socket
    // left but could not be registered on the other loop (it is closed).
    Moved move(Connection& connection, std::size_t to);
    // Runs `fn` on the connection's loop (or strand), wherever it has moved meanwhile.
    void on_connection(const std::shared_ptr<Connection>& connection,
                       std::function<void(Connection&)> fn);
    net::any_io_executor executor_of(Connection& connection);
    void spawn_session(std::shared_ptr<Connection> connection);

    net::awaitable<void> accept_loop();
    net::awaitable<void> scale_loops();
    // Serves the connection's requests; true when it moved to another loop (and goes on there).
    net::awaitable<bool> session(std::shared_ptr<Connection> connection);

    net::io_context& m_ioc;
    const config::ServerConfig& m_config;
    Handler m_handler;
    net::ip::tcp::acceptor m_acceptor;
    std::atomic<std::shared_ptr<net::ssl::context>> m_tls;
    std::atomic<bool> m_stopping{false};
    std::atomic<std::size_t> m_active{0};
    std::mutex m_mutex;
    std::unordered_set<std::shared_ptr<Connection>> m_connections;
    std::vector<std::unique_ptr<Loop>> m_loops;
    std::atomic<unsigned> m_active_loops{0};
    std::atomic<std::uint64_t> m_period{0};  // scaling periods so far
    std::function<LoadSample()> m_measure;
    bool m_loops_released = false;                   // under m_mutex
    std::optional<net::steady_timer> m_scale_timer;  // on the acceptor's strand
};

}  // namespace proxy::server
