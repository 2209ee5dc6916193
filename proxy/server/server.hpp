#pragma once
// The HTTP/1.1 listener, plain or TLS: accepts connections up to a bound, runs each on its own
// strand with keep-alive, timeouts and parser limits, hands every request to one handler and logs
// it.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "proxy/server/exchange.hpp"

namespace proxy::server {

class Server {
  public:
    using Handler = std::function<net::awaitable<void>(Exchange&)>;

    Server(net::io_context& ioc, const config::ServerConfig& config, Handler handler);

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

  private:
    struct Connection;

    net::awaitable<void> accept_loop();
    net::awaitable<void> session(std::shared_ptr<Connection> connection);

    net::io_context& m_ioc;
    const config::ServerConfig& m_config;
    Handler m_handler;
    net::ip::tcp::acceptor m_acceptor;
    std::atomic<std::shared_ptr<net::ssl::context>> m_tls;
    std::atomic<bool> m_stopping{false};
    std::atomic<std::size_t> m_active{0};
    std::mutex m_mutex;
    std::unordered_set<std::shared_ptr<Connection>> m_connections;
};

}  // namespace proxy::server
