// The listener with event loops of its own: each connection's requests run on one loop thread
// (never on the main io_context's), connections are dealt to the loops round robin, a handler
// that waits for work on the main io_context resumes on its loop, and the main io_context's
// run() returns only once the server has stopped and its connections have ended.

#include <chrono>
#include <future>
#include <map>
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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "proxy/server/exchange.hpp"
#include "proxy/server/server.hpp"

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
    explicit LoopServer(unsigned loops)
        : server(
              ioc, config, [this](proxy::server::Exchange& ex) { return answer(ex); }, loops) {
        port = server.listen("127.0.0.1", 0).value().port();
        server.start();
        main = std::async(std::launch::async, [this] {
            std::string id = thread_name();
            ioc.run();
            return id;
        });
    }

    net::awaitable<void> answer(proxy::server::Exchange& ex) {
        const std::string before = thread_name();
        net::steady_timer timer(ioc.get_executor(), std::chrono::milliseconds(1));
        std::ignore = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        const std::string body = before + "," + thread_name();
        const http::fields none;
        co_await proxy::server::send_response(ex, http::status::ok, none, body);
    }

    net::io_context ioc;
    config::ServerConfig config;
    proxy::server::Server server;
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
        http::response<http::string_body> response;
        http::read(socket, buffer, response);
        REQUIRE(response.result() == http::status::ok);
        return response.body();
    }
    net::io_context ioc;
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
};

}  // namespace

TEST_CASE("server loops: each connection stays on one loop thread, dealt round robin", "[server]") {
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
