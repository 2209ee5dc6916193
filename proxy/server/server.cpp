#include "proxy/server/server.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <pthread.h>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "proxy/log.hpp"
#include "proxy/server/loop_scaling.hpp"

namespace proxy::server {

namespace {

constexpr auto k_token = net::as_tuple(net::use_awaitable);

void report(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log_line(std::string("server: unexpected exception: ") + ex.what());
    }
}

std::string access_line(const Request& request, const Exchange& ex,
                        std::chrono::steady_clock::duration elapsed) {
    std::string_view target = request.target();
    target = target.substr(0, target.find('?'));  // queries may carry tokens: never logged
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    const auto number = [](std::string& out, std::uint64_t value) {
        char digits[24];
        out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
    };
    std::string line;
    line.reserve(96 + target.size());
    line += request.method_string();
    line += ' ';
    line += target;
    line += ' ';
    number(line, ex.status);
    line += ' ';
    number(line, ex.bytes);
    line += "B ";
    number(line, static_cast<std::uint64_t>(std::max<std::int64_t>(0, ms)));
    line += "ms ";
    line += ex.outcome;
    if (ex.aborted) line += " aborted";
    if (!ex.identity.empty()) line += " user=" + ex.identity;
    return line;
}

// Feeds what `buffer` holds to `parser`, consuming what it took: http::error::need_more unless
// the header is complete there (or broken: the parser's error).
boost::system::error_code parse_buffered(http::request_parser<http::string_body>& parser,
                                         beast::flat_buffer& buffer) {
    boost::system::error_code ec = http::error::need_more;
    if (buffer.size() == 0) return ec;
    buffer.consume(parser.put(buffer.data(), ec));
    if (!ec && !parser.is_header_done()) ec = http::error::need_more;
    return ec;
}

}  // namespace

// How long a closing TLS connection waits for the client's close_notify.
constexpr std::chrono::seconds k_tls_shutdown_timeout{2};
// How often config.scale_loops measures the loops and the machine.
constexpr std::chrono::milliseconds k_scale_period{250};
// Periods in a row without the idle CPUs after which scaling gives up (every loop is used).
constexpr unsigned k_unknown_periods = 20;

struct Server::Connection {
    Connection(net::ip::tcp::socket socket, std::shared_ptr<net::ssl::context> tls)
        : stream(std::move(socket), std::move(tls)) {}
    Stream stream;
    // Keeps the main io_context from running out of work while the connection is open (when
    // it runs on a loop of the server's own).
    std::optional<net::executor_work_guard<net::io_context::executor_type>> main_work;
    // Keeps its loop running: taken for the next loop before a move, so that the loop cannot
    // have ended by the time the connection gets there.
    std::optional<net::executor_work_guard<net::io_context::executor_type>> loop_work;
    std::size_t loop = 0;  // its loop's index; written under m_mutex, read there elsewhere
    std::atomic<std::uint64_t> served{0};  // the scaling period of its last request
    beast::flat_buffer buffer;             // bytes read past the last request, carried along a move
    std::vector<std::string> client_cert_names;  // set after the TLS handshake
    // On the connection's strand only:
    bool opened = false;  // the session began (a moved connection's does not shake hands again)
    std::atomic<bool> busy{false};  // a request is being answered (rebalance reads it too)
    bool closing = false;  // close_all reached it: a session (re)spawned after ends at once
    // Ends whatever the session awaits (close_all); emitted on the connection's strand.
    net::cancellation_signal cancel;
};

struct Server::Loop {
    net::io_context context{1};
    std::optional<net::executor_work_guard<net::io_context::executor_type>> idle{
        net::make_work_guard(context)};
    std::thread thread;
    clockid_t clock = CLOCK_THREAD_CPUTIME_ID;  // the thread's CPU clock, once it runs
    bool has_clock = false;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> working{0};  // those that sent a request lately (rebalance, moves)
    std::atomic<std::int64_t> shed{0};    // connections to hand over between requests
};

Server::Server(net::io_context& ioc, const config::ServerConfig& config, Handler handler,
               unsigned loops)
    : m_ioc(ioc),
      m_config(config),
      m_handler(std::move(handler)),
      m_acceptor(net::make_strand(ioc)) {
    for (unsigned i = 0; i < loops; ++i) {
        m_loops.push_back(std::make_unique<Loop>());
        Loop& loop = *m_loops.back();
        loop.thread = std::thread([&loop] { loop.context.run(); });
        loop.has_clock = pthread_getcpuclockid(loop.thread.native_handle(), &loop.clock) == 0;
    }
    m_active_loops = config.scale_loops ? std::min(1u, loops) : loops;
}

Server::~Server() {
    if (m_loops.empty()) return;
    stop();
    close_all();
    release_loops();
    for (const auto& loop : m_loops)
        loop->thread.join();
}

std::size_t Server::next_loop() const {
    const std::size_t active = std::min<std::size_t>(m_active_loops.load(), m_loops.size());
    std::size_t best = 0;
    for (std::size_t i = 1; i < active; ++i) {
        if (m_loops[i]->connections.load() < m_loops[best]->connections.load()) best = i;
    }
    return best;
}

void Server::release_loops() {
    {
        const std::lock_guard lock(m_mutex);
        if (m_loops_released) return;
        m_loops_released = true;
    }
    for (const auto& loop : m_loops) {
        net::post(loop->context, [&loop = *loop] { loop.idle.reset(); });
    }
}

void Server::set_active_loops(unsigned active) {
    if (m_loops.empty()) return;
    m_active_loops = std::clamp<unsigned>(active, 1, static_cast<unsigned>(m_loops.size()));
    rebalance();
}

void Server::rebalance() {
    // Working: answering a request, or done with one within the last two periods. A loop with
    // many idle keep-alive connections and few busy ones is not full; only connections that
    // send requests move.
    std::vector<std::size_t> working(m_loops.size(), 0);
    const std::uint64_t period = m_period.load();
    {
        const std::lock_guard lock(m_mutex);
        for (const auto& connection : m_connections) {
            // Periods count from 1 at the first tick; a request stamps the period it ends in,
            // and counts while it runs.
            if (connection->busy.load(std::memory_order_relaxed) ||
                connection->served.load(std::memory_order_relaxed) + 3 > period)
                ++working[connection->loop];
        }
    }
    std::vector<std::size_t> connections;
    connections.reserve(m_loops.size());
    for (const auto& loop : m_loops)
        connections.push_back(loop->connections.load());
    const auto shed = shed_counts(working, connections, m_active_loops.load());
    for (std::size_t i = 0; i < m_loops.size(); ++i) {
        m_loops[i]->working.store(working[i]);
        m_loops[i]->shed.store(static_cast<std::int64_t>(shed[i]));
    }
}

std::optional<std::size_t> Server::move_target(std::size_t from) {
    Loop& loop = *m_loops[from];
    if (loop.shed.load(std::memory_order_relaxed) <= 0) return std::nullopt;
    const std::size_t active = std::min<std::size_t>(m_active_loops.load(), m_loops.size());
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < active; ++i) {
        if (i == from) continue;
        if (!best || m_loops[i]->working.load() < m_loops[*best]->working.load()) best = i;
    }
    if (!best) return std::nullopt;
    // Within the active loops, only a move that evens the shares out.
    if (from < active && m_loops[*best]->working.load() + 1 >= loop.working.load())
        return std::nullopt;
    return best;
}

Server::Moved Server::move(Connection& connection, std::size_t to) {
    {
        const std::lock_guard lock(m_mutex);
        if (m_loops_released || m_stopping) return Moved::stays;
        // Holds the next loop up until the connection has got there (released loops end once
        // they run out of work).
        connection.loop_work.emplace(net::make_work_guard(m_loops[to]->context));
    }
    // A callback of on_connection that comes meanwhile runs on this loop, after this.
    if (const auto ec = connection.stream.rehome(m_loops[to]->context.get_executor())) {
        connection.loop_work.emplace(net::make_work_guard(m_loops[connection.loop]->context));
        log_line("server: cannot move a connection to another loop: " + ec.message());
        return connection.stream.socket().is_open() ? Moved::stays : Moved::lost;
    }
    std::size_t from = 0;
    {
        const std::lock_guard lock(m_mutex);
        from = connection.loop;
        connection.loop = to;
    }
    --m_loops[from]->connections;
    ++m_loops[to]->connections;
    // Spent until the next rebalance recounts. An idle connection leaving a dropped loop was
    // not counted as working there.
    Loop& old = *m_loops[from];
    old.shed.fetch_sub(1, std::memory_order_relaxed);
    std::size_t working = old.working.load();
    while (working > 0 && !old.working.compare_exchange_weak(working, working - 1)) {
    }
    ++m_loops[to]->working;
    return Moved::yes;
}

net::any_io_executor Server::executor_of(Connection& connection) {
    // Without loops of its own a connection never moves: its stream's executor is fixed.
    if (m_loops.empty()) return connection.stream.get_executor();
    return m_loops[connection.loop]->context.get_executor();
}

void Server::on_connection(const std::shared_ptr<Connection>& connection,
                           std::function<void(Connection&)> fn) {
    // The caller holds m_mutex.
    const net::any_io_executor where = executor_of(*connection);
    net::post(where, [this, connection, where, fn = std::move(fn)]() mutable {
        bool here = false;
        {
            const std::lock_guard lock(m_mutex);
            here = executor_of(*connection) == where;
            if (!here) on_connection(connection, std::move(fn));  // it moved meanwhile
        }
        if (here) fn(*connection);
    });
}

boost::system::result<net::ip::tcp::endpoint> Server::listen(const std::string& host,
                                                             std::uint16_t port) {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return ec;
    const net::ip::tcp::endpoint endpoint(address, port);
    m_acceptor.open(endpoint.protocol(), ec);
    if (ec) return ec;
    m_acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return ec;
    m_acceptor.bind(endpoint, ec);
    if (ec) return ec;
    m_acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    auto bound = m_acceptor.local_endpoint(ec);
    if (ec) return ec;
    return bound;
}

void Server::start() {
    net::co_spawn(m_acceptor.get_executor(), accept_loop(),
                  [](std::exception_ptr e) { report(e); });
    // Without scaling every loop takes connections from the start; nothing rebalances.
    if (m_config.scale_loops && m_loops.size() > 1) {
        m_scale_timer.emplace(m_acceptor.get_executor());
        net::co_spawn(m_acceptor.get_executor(), scale_loops(),
                      [](std::exception_ptr e) { report(e); });
    }
}

net::awaitable<void> Server::scale_loops() {
    const std::size_t loops = m_loops.size();
    LoopPolicy policy(static_cast<unsigned>(loops));
    std::function<LoadSample()> measure = m_measure;
    if (!measure) {
        // Each loop thread's CPU time over the period, and the idle CPUs this process may use.
        IdleCpus idle;
        std::ignore = idle.sample();
        const bool clocks = std::all_of(m_loops.begin(), m_loops.end(),
                                        [](const auto& loop) { return loop->has_clock; });
        if (!clocks || !idle.readable()) {
            log_line("server: cannot measure the loops' load (" +
                     std::string(clocks ? "/proc/stat" : "thread CPU clocks") + "): all " +
                     std::to_string(loops) + " loops take connections");
            set_active_loops(static_cast<unsigned>(loops));
            co_return;
        }
        std::vector<double> cpu(loops);
        for (std::size_t i = 0; i < loops; ++i)
            cpu[i] = thread_cpu_seconds(m_loops[i]->clock);
        measure = [this, idle = std::move(idle), cpu = std::move(cpu),
                   last = std::chrono::steady_clock::now()]() mutable {
            const auto now = std::chrono::steady_clock::now();
            const double wall = std::chrono::duration<double>(now - last).count();
            last = now;
            LoadSample sample;
            sample.busy.resize(cpu.size());
            for (std::size_t i = 0; i < cpu.size(); ++i) {
                const double seconds = thread_cpu_seconds(m_loops[i]->clock);
                sample.busy[i] = wall > 0 ? (seconds - cpu[i]) / wall : 0.0;
                cpu[i] = seconds;
            }
            sample.idle_cpus = idle.sample();
            return sample;
        };
    }
    unsigned unknown = 0;  // periods in a row without the idle CPUs
    while (!m_stopping) {
        m_scale_timer->expires_after(k_scale_period);
        const auto [ec] = co_await m_scale_timer->async_wait(k_token);
        if (ec || m_stopping) break;
        ++m_period;
        const LoadSample sample = measure();
        // A period without a clock tick is unknown now and then; twenty in a row (5 s) mean the
        // idle CPUs cannot be read here (a /proc/stat that does not list the CPUs this process
        // may use): every loop takes connections, as without scaling.
        unknown = sample.idle_cpus ? 0 : unknown + 1;
        if (unknown >= k_unknown_periods) {
            log_line("server: cannot measure the idle CPUs: all " + std::to_string(loops) +
                     " loops take connections");
            set_active_loops(static_cast<unsigned>(loops));
            co_return;
        }
        const unsigned before = policy.active();
        const unsigned after = policy.next(sample.busy, sample.idle_cpus.value_or(0.0));
        if (after != before) {
            log_line("server: " + std::to_string(after) + " of " + std::to_string(loops) +
                     " loops take connections");
        }
        set_active_loops(after);
    }
}

void Server::stop() {
    m_stopping = true;
    // On the acceptor's strand: a connection whose accept completed before the close has been
    // handed to its loop by then, so the loop gets it before it may run out of work.
    net::post(m_acceptor.get_executor(), [this] {
        boost::system::error_code ignored;
        m_acceptor.close(ignored);
        if (m_scale_timer) m_scale_timer->cancel();
        release_loops();
    });
    {
        const std::lock_guard lock(m_mutex);
        for (const auto& connection : m_connections) {
            on_connection(connection, [](Connection& c) {
                if (!c.busy.load(std::memory_order_relaxed)) c.stream.cancel();
            });
        }
    }
}

void Server::close_all() {
    const std::lock_guard lock(m_mutex);
    for (const auto& connection : m_connections) {
        on_connection(connection, [](Connection& c) {
            c.closing = true;
            c.cancel.emit(net::cancellation_type::terminal);
            boost::system::error_code ignored;
            c.stream.socket().close(ignored);
        });
    }
}

net::awaitable<void> Server::accept_loop() {
    while (!m_stopping) {
        // With loops, accepted here and then handed to its loop: the loop is chosen when the
        // connection has come, and no socket of a loop waits in the main io_context's queue
        // (where it could outlive its loop).
        const net::any_io_executor executor = m_loops.empty()
                                                  ? net::any_io_executor(net::make_strand(m_ioc))
                                                  : m_acceptor.get_executor();
        auto [ec, socket] = co_await m_acceptor.async_accept(executor, k_token);
        if (ec) {
            if (m_stopping || ec == net::error::operation_aborted) break;
            log_line("accept: " + ec.message());
            // Out of descriptors and the like: pause a moment rather than spin.
            net::steady_timer pause(co_await net::this_coro::executor,
                                    std::chrono::milliseconds(50));
            std::ignore = co_await pause.async_wait(k_token);
            continue;
        }
        if (m_stopping) {
            boost::system::error_code ignored;
            socket.close(ignored);
            break;
        }
        if (m_active.load() >= m_config.max_connections) {
            // Over the bound: refuse at once rather than queue unbounded work.
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        ++m_active;
        socket.set_option(net::ip::tcp::no_delay(true), ec);
        const std::size_t loop = m_loops.empty() ? 0 : next_loop();
        if (!m_loops.empty()) {
            auto moved = move_socket(socket, m_loops[loop]->context.get_executor());
            if (!moved) {
                log_line("accept: cannot hand a connection to its loop: " +
                         moved.error().message());
                boost::system::error_code ignored;
                socket.close(ignored);
                --m_active;
                continue;
            }
            socket = std::move(*moved);
        }
        auto connection = std::make_shared<Connection>(std::move(socket), m_tls.load());
        connection->served = m_period.load();
        if (!m_loops.empty()) {
            connection->main_work.emplace(net::make_work_guard(m_ioc));
            connection->loop_work.emplace(net::make_work_guard(m_loops[loop]->context));
            connection->loop = loop;
            ++m_loops[loop]->connections;
        }
        {
            const std::lock_guard lock(m_mutex);
            m_connections.insert(connection);
        }
        // Spawned on its own loop, as after a move: the cancellation slot is set on the thread
        // that emits on it (close_all, through on_connection).
        net::post(connection->stream.get_executor(),
                  [this, connection] { spawn_session(connection); });
    }
}

void Server::spawn_session(std::shared_ptr<Connection> connection) {
    auto done = [this, connection](std::exception_ptr e, bool moved) {
        report(e);
        if (!e && moved) {
            // Its new loop spawns the session there: the cancellation slot is set on the
            // thread that emits on it (on_connection).
            net::post(connection->stream.get_executor(),
                      [this, connection] { spawn_session(connection); });
            return;
        }
        if (!m_loops.empty()) --m_loops[connection->loop]->connections;
        {
            const std::lock_guard lock(m_mutex);
            m_connections.erase(connection);
        }
        --m_active;
    };
    net::co_spawn(connection->stream.get_executor(), session(connection),
                  net::bind_cancellation_slot(connection->cancel.slot(), std::move(done)));
}

net::awaitable<bool> Server::session(std::shared_ptr<Connection> connection) {
    // Cancelled (close_all), each awaited operation ends with an error the handlers already
    // handle; none throws.
    co_await net::this_coro::throw_if_cancelled(false);
    if (connection->closing) co_return false;  // close_all came before it got here
    Stream& stream = connection->stream;
    const bool opening = !connection->opened;
    connection->opened = true;
    if (stream.is_tls() && opening) {
        // The handshake is bounded like a request's headers (slow clients are dropped).
        stream.expires_after(m_config.header_timeout);
        auto handshaking = stream.handshake();
        if (const auto ec = co_await std::move(handshaking)) {
            boost::system::error_code peer_ec;
            const auto peer = stream.socket().remote_endpoint(peer_ec);
            log_line("tls: handshake with " + (peer_ec ? "?" : peer.address().to_string()) +
                     " failed: " + ec.message());
            boost::system::error_code ignored;
            stream.socket().close(ignored);
            co_return false;
        }
        connection->client_cert_names = stream.peer_certificate_names();
    }
    beast::flat_buffer& buffer = connection->buffer;
    for (;;) {
        if (m_stopping) break;
        if (buffer.size() == 0) {
            // Idle keep-alive: wait for the first byte of the next request.
            stream.expires_after(m_config.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), k_token);
            if (ec) break;
            buffer.commit(n);
        }
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(m_config.max_header_bytes));
        parser.body_limit(m_config.max_body_bytes);
        // The whole header must arrive within header_timeout (slow clients are dropped), and a
        // body that follows it within the same.
        stream.expires_after(m_config.header_timeout);
        // The header is usually in the buffer whole: parsed here, it costs no read that would
        // complete through the loop. Else the read goes on from where this left off.
        boost::system::error_code ec = parse_buffered(parser, buffer);
        if (ec == http::error::need_more) {
            auto reading = http::async_read_header(stream, buffer, parser, k_token);
            const auto [read_ec, n] = co_await std::move(reading);
            ec = read_ec;
        }
        // Relaxed: rebalance only counts it, and everything else reads it on this strand.
        connection->busy.store(true, std::memory_order_relaxed);
        const auto started = std::chrono::steady_clock::now();
        if (ec) {
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == net::error::operation_aborted || ec == net::error::eof)
                break;
            Request bad{http::verb::get, "/", 11};
            Exchange ex{.stream = stream,
                        .request = bad,
                        .write_timeout = m_config.idle_timeout,
                        .client_cert_names = connection->client_cert_names};
            ex.keep_alive = false;
            const bool too_large = ec == http::error::header_limit;
            const ApiError error{too_large ? 431u : 400u, "NAME_INVALID",
                                 too_large ? "request headers too large" : "bad request", ""};
            co_await send_error(ex, error);
            break;
        }
        const auto method = parser.get().method();
        const bool reads = method == http::verb::get || method == http::verb::head;
        bool keep_alive = parser.get().keep_alive();
        if (!parser.is_done()) {
            if (!reads && parser.get().target().starts_with("/v2")) {
                // Push to a mirror: answered without reading the body, then closed.
                keep_alive = false;
            } else {
                auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, k_token);
                if (body_ec) {
                    // A malformed body (bad chunk framing, cut short) gets a 400 as a malformed
                    // header does; a client that went quiet or a server shutting down, nothing.
                    if (body_ec != beast::error::timeout &&
                        body_ec != net::error::operation_aborted) {
                        const bool too_large = body_ec == http::error::body_limit;
                        Exchange ex{.stream = stream,
                                    .request = parser.get(),
                                    .write_timeout = m_config.idle_timeout,
                                    .client_cert_names = connection->client_cert_names};
                        ex.keep_alive = false;
                        const ApiError error{
                            too_large ? 413u : 400u, too_large ? "SIZE_INVALID" : "BODY_INVALID",
                            too_large ? "request body too large" : "malformed request body", ""};
                        co_await send_error(ex, error);
                    }
                    break;
                }
            }
        }
        const Request& request = parser.get();
        Exchange ex{.stream = stream,
                    .request = request,
                    .write_timeout = m_config.idle_timeout,
                    .client_cert_names = connection->client_cert_names};
        ex.keep_alive = keep_alive && !m_stopping;
        co_await m_handler(ex);
        connection->served.store(m_period.load(), std::memory_order_relaxed);
        log_access(access_line(request, ex, std::chrono::steady_clock::now() - started));
        connection->busy.store(false, std::memory_order_relaxed);
        if (!ex.keep_alive || ex.aborted) break;
        if (!m_loops.empty()) {
            // Between requests: hand the connection to another loop if its own has too many.
            if (const auto to = move_target(connection->loop)) {
                const Moved moved = move(*connection, *to);
                if (moved == Moved::yes) co_return true;
                if (moved == Moved::lost) break;
            }
        }
    }
    if (stream.is_tls() && stream.socket().is_open()) {
        stream.expires_after(k_tls_shutdown_timeout);
        co_await stream.shutdown();
    }
    if (stream.socket().is_open()) {
        boost::system::error_code ignored;
        stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
        stream.socket().close(ignored);
    }
    co_return false;
}

}  // namespace proxy::server
