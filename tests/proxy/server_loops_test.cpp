// The listener with event loops of its own: each connection's requests run on one loop thread
// (never on the main io_context's), new connections go to the active loop with the fewest, a
// handler that waits for work on the main io_context resumes on its loop, connections move
// between requests when the active loops change (pipelined requests and all), and the main
// io_context's run() returns only once the server has stopped and its connections have ended.

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/server/server.hpp"
#include "tests/proxy/server_test_util.hpp"

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

std::string thread_name() {
    std::ostringstream out;
    out << std::this_thread::get_id();
    return out.str();
}

// Answers "<thread before>,<thread after>": the thread the handler began on, and the one it
// continued on after waiting for a timer of the main io_context.
struct LoopServer {
    // `scale`: config.scale_loops (off: every loop takes connections); `measure`: what the
    // scaling timer measures instead of the CPU clocks, if set.
    explicit LoopServer(unsigned loops, bool scale = false,
                        std::function<proxy::server::Server::LoadSample()> measure = {})
        : config(with_scaling(scale)),
          server(
              ioc, config, [this](proxy::server::Exchange& ex) { return answer(ex); }, loops) {
        port = server.listen("127.0.0.1", 0).value().port();
        if (measure) server.measure_load_with(std::move(measure));
        server.start();
        main = std::async(std::launch::async, [this] {
            std::string id = thread_name();
            ioc.run();
            return id;
        });
    }

    // A test that failed midway still ends the server (so that `main` returns).
    ~LoopServer() {
        server.stop();
        server.close_all();
    }

    net::awaitable<void> answer(proxy::server::Exchange& ex) {
        if (ex.request.target() == "/gate") {
            // Held until the test opens the gate: the loop's thread blocks (for at most 20 s),
            // which is what a test of the moment between two requests needs.
            entered.set_value();
            gate.get_future().wait_for(std::chrono::seconds(20));
        }
        const std::string before = thread_name();
        net::steady_timer timer(ioc.get_executor(), std::chrono::milliseconds(1));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        const std::string body = before + "," + thread_name();
        const http::fields none;
        co_await proxy::server::send_response(ex, http::status::ok, none, body);
    }

    static config::ServerConfig with_scaling(bool scale) {
        config::ServerConfig c;
        c.scale_loops = scale;
        return c;
    }

    net::io_context ioc;
    config::ServerConfig config;
    proxy::server::Server server;
    std::promise<void> entered;  // a request reached /gate
    std::promise<void> gate;     // opened by the test
    unsigned short port = 0;
    std::future<std::string> main;  // the main io_context's thread id, once its run() returned
};

struct Connection {
    explicit Connection(unsigned short port) : socket(ioc) {
        socket.connect({net::ip::make_address("127.0.0.1"), port});
    }
    std::string get() {
        http::request<http::string_body> request{http::verb::get, "/", 11};
        request.set(http::field::host, "127.0.0.1");
        http::write(socket, request);
        return read();
    }
    std::string read() {
        http::response<http::string_body> response;
        http::read(socket, buffer, response);
        REQUIRE(response.result() == http::status::ok);
        return response.body();
    }
    // The loop thread the next request runs on (it starts and resumes there).
    std::string loop() {
        const std::string body = get();
        const auto comma = body.find(',');
        REQUIRE(comma != std::string::npos);
        REQUIRE(body.substr(0, comma) == body.substr(comma + 1));
        return body.substr(0, comma);
    }
    net::io_context ioc;
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
};

}  // namespace

TEST_CASE(
    "server loops: each connection stays on one loop thread, each new one on the loop with "
    "the fewest",
    "[server]") {
    LoopServer s(2);
    std::vector<std::unique_ptr<Connection>> connections;
    std::vector<std::string> threads;  // per connection
    for (int i = 0; i < 4; ++i) {
        connections.push_back(std::make_unique<Connection>(s.port));
        std::set<std::string> seen;
        for (int r = 0; r < 3; ++r) {
            const std::string body = connections.back()->get();
            const auto comma = body.find(',');
            REQUIRE(comma != std::string::npos);
            seen.insert(body.substr(0, comma));
            seen.insert(body.substr(comma + 1));  // resumed on the same loop after the wait
        }
        REQUIRE(seen.size() == 1);
        threads.push_back(*seen.begin());
    }
    CHECK(threads[0] != threads[1]);  // the two loops, in turn
    CHECK(threads[0] == threads[2]);
    CHECK(threads[1] == threads[3]);
    connections.clear();
    s.server.stop();
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    const std::string main_thread = s.main.get();
    for (const auto& t : threads)
        CHECK(t != main_thread);
}

TEST_CASE("server loops: the main io_context runs while a connection is open", "[server]") {
    LoopServer s(1);
    Connection open(s.port);
    REQUIRE_FALSE(open.get().empty());
    // Nothing is queued on the main io_context now, but the open connection keeps it running.
    CHECK(s.main.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
    CHECK(s.server.connections() == 1);
    s.server.stop();  // the idle connection is ended
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    CHECK(s.server.connections() == 0);
}

TEST_CASE("server loops: with scale_loops connections start on one loop", "[server]") {
    LoopServer s(2, true);
    CHECK(s.server.active_loops() == 1);
    std::vector<std::unique_ptr<Connection>> connections;
    std::set<std::string> threads;
    for (int i = 0; i < 4; ++i) {
        connections.push_back(std::make_unique<Connection>(s.port));
        threads.insert(connections.back()->loop());
    }
    // A few requests saturate no loop: the timer adds none.
    CHECK(threads.size() == 1);
    CHECK(s.server.active_loops() == 1);
    connections.clear();
    s.server.stop();
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
}

TEST_CASE("server loops: connections move between requests as the active loops change",
          "[server]") {
    LoopServer s(2);
    std::vector<std::unique_ptr<Connection>> connections;
    std::map<std::string, int> per_loop;
    for (int i = 0; i < 4; ++i) {
        connections.push_back(std::make_unique<Connection>(s.port));
        ++per_loop[connections.back()->loop()];
    }
    REQUIRE(per_loop.size() == 2);  // both loops take connections

    // Connections per loop after one request each (a connection moves after the response it
    // is sending when the loops change, or after the next).
    const auto settled = [&connections] {
        for (auto& c : connections)
            c->loop();
        std::map<std::string, int> counts;
        for (auto& c : connections)
            ++counts[c->loop()];
        return counts;
    };

    // One loop: each connection on the other moves.
    s.server.set_active_loops(1);
    CHECK(s.server.active_loops() == 1);
    per_loop = settled();
    CHECK(per_loop.size() == 1);
    CHECK(per_loop.begin()->second == 4);
    const std::string first = per_loop.begin()->first;

    // Two again: two of the four move back, and the loops carry two each.
    s.server.set_active_loops(2);
    per_loop = settled();
    REQUIRE(per_loop.size() == 2);
    CHECK(per_loop[first] == 2);

    // Clamped to the loops there are.
    s.server.set_active_loops(0);
    CHECK(s.server.active_loops() == 1);
    s.server.set_active_loops(5);
    CHECK(s.server.active_loops() == 2);

    connections.clear();
    s.server.stop();
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    CHECK(s.server.connections() == 0);
}

TEST_CASE("server loops: requests sent together are answered in order across a move", "[server]") {
    LoopServer s(2);
    Connection a(s.port);
    Connection b(s.port);
    const std::string loop_a = a.loop();
    const std::string loop_b = b.loop();
    REQUIRE(loop_a != loop_b);
    // Three requests in one write to the connection on the second loop (b: the first went to
    // loop 0, the second to loop 1). The first is held at the gate until the loops have
    // changed: b moves after its response, with what it read of the other two, and answers
    // them on the first loop.
    std::string requests = "GET /gate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < 2; ++i)
        requests += "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(b.socket, net::buffer(requests));
    REQUIRE(s.entered.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    s.server.set_active_loops(1);
    s.gate.set_value();
    CHECK(b.read() == loop_b + "," + loop_b);
    CHECK(b.read() == loop_a + "," + loop_a);
    CHECK(b.read() == loop_a + "," + loop_a);
    CHECK(a.loop() == loop_a);
    s.server.stop();
    a.socket.close();
    b.socket.close();
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
}

TEST_CASE("server loops: a new connection goes to the loop with the fewest", "[server]") {
    LoopServer s(2);
    auto c0 = std::make_unique<Connection>(s.port);
    Connection c1(s.port);
    auto c2 = std::make_unique<Connection>(s.port);
    const std::string loop0 = c0->loop();
    REQUIRE(c1.loop() != loop0);
    REQUIRE(c2->loop() == loop0);
    // Loop 0 empty, loop 1 one: the next goes to loop 0, though the accept waiting for it was
    // started when loop 1 had fewer (and round robin would deal it to loop 1).
    c0.reset();
    c2.reset();
    REQUIRE(proxy::test::wait_for_connections(s.server, 1));
    Connection c3(s.port);
    CHECK(c3.loop() == loop0);
}

TEST_CASE("server loops: stop ends an idle connection that moved", "[server]") {
    LoopServer s(2);
    Connection a(s.port);
    Connection b(s.port);
    const std::string loop_a = a.loop();
    REQUIRE(b.loop() != loop_a);
    s.server.set_active_loops(1);
    b.loop();
    REQUIRE(b.loop() == loop_a);  // moved to loop 0, and idle there now
    // Both stay open on the client's side: only the server can end them, well before their
    // idle_timeout (2 minutes).
    s.server.stop();
    REQUIRE(s.main.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    CHECK(s.server.connections() == 0);
}

namespace {

// The scaling timer's measure for a test: each period `busy` and `idle`, counted.
struct FakeLoad {
    std::mutex mutex;
    std::vector<double> busy{0.1, 0.0};
    double idle = 1.5;
    std::atomic<int> periods{0};

    proxy::server::Server::LoadSample operator()() {
        const std::lock_guard lock(mutex);
        ++periods;
        return {busy, idle};
    }
    void set(std::vector<double> b, double i) {
        const std::lock_guard lock(mutex);
        busy = std::move(b);
        idle = i;
    }
    // Waits (boundedly) until `n` more periods have passed.
    bool wait_periods(int n) {
        const int until = periods.load() + n;
        for (int i = 0; i < 2000 && periods.load() < until; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return periods.load() >= until;
    }
};

// Waits (boundedly) until the server has `n` active loops.
bool wait_active(const proxy::server::Server& server, unsigned n) {
    for (int i = 0; i < 2000 && server.active_loops() != n; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return server.active_loops() == n;
}

}  // namespace

TEST_CASE(
    "server loops: the timer adds a loop while the one is saturated and a CPU idle, and "
    "drops it once the load fits",
    "[server]") {
    auto load = std::make_shared<FakeLoad>();
    LoopServer s(2, true, [load] { return (*load)(); });
    Connection a(s.port);
    Connection b(s.port);
    const std::string first = a.loop();
    REQUIRE(b.loop() == first);

    // Saturated, but no CPU idle: still one loop.
    load->set({0.95, 0.0}, 0.2);
    REQUIRE(load->wait_periods(3));
    CHECK(s.server.active_loops() == 1);

    // A CPU idle: a second loop, and one of the two working connections moves to it.
    load->set({0.95, 0.0}, 1.5);
    REQUIRE(wait_active(s.server, 2));
    // Both working in a period, then the rebalance: one of them moves after its next response.
    a.loop();
    b.loop();
    REQUIRE(load->wait_periods(1));
    a.loop();
    b.loop();
    CHECK(a.loop() != b.loop());

    // Quiet for k_quiet_periods: back to one, and the connection on the second loop returns.
    load->set({0.1, 0.1}, 1.5);
    REQUIRE(wait_active(s.server, 1));
    REQUIRE(load->wait_periods(1));  // the rebalance after the change
    a.loop();
    b.loop();
    CHECK(a.loop() == first);
    CHECK(b.loop() == first);
}

TEST_CASE("server loops: only connections that send requests are balanced between the loops",
          "[server]") {
    auto load = std::make_shared<FakeLoad>();
    LoopServer s(2, true, [load] { return (*load)(); });
    std::vector<std::unique_ptr<Connection>> idle;
    for (int i = 0; i < 4; ++i) {
        idle.push_back(std::make_unique<Connection>(s.port));
        idle.back()->loop();
    }
    Connection a(s.port);
    Connection b(s.port);
    const std::string first = a.loop();
    REQUIRE(b.loop() == first);
    // Three periods in which only a and b send requests: the four others stop counting.
    for (int period = 0; period < 3; ++period) {
        a.loop();
        b.loop();
        REQUIRE(load->wait_periods(1));
    }
    // A second loop: of two working connections one moves. Counting the idle ones too (six, a
    // share of three), both would move and the second loop would carry all the work.
    load->set({0.95, 0.0}, 1.5);
    REQUIRE(wait_active(s.server, 2));
    for (int round = 0; round < 3; ++round) {
        a.loop();
        b.loop();
        REQUIRE(load->wait_periods(1));
    }
    CHECK(a.loop() != b.loop());
}
