#pragma once
// A server for the CLI client tests: listens on 127.0.0.1, port 0, and hands each connection in
// turn to a function on its own thread, until it is destroyed. The destructor wakes a pending
// accept, so a test that fails before its last request still ends.

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace proxy::test {

class LoopbackServer {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    using Serve = std::function<void(Socket&)>;

    explicit LoopbackServer(Serve serve)
        : m_acceptor(m_ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}),
          m_endpoint(m_acceptor.local_endpoint()),
          m_serve(std::move(serve)) {
        m_thread = std::thread([this] {
            for (;;) {
                boost::system::error_code ec;
                Socket socket(m_ioc);
                m_acceptor.accept(socket, ec);
                if (ec || m_stopping) return;
                m_serve(socket);
            }
        });
    }
    ~LoopbackServer() {
        m_stopping = true;
        boost::asio::io_context ioc;
        Socket wake(ioc);
        boost::system::error_code ignored;  // nothing to wake if the thread has ended
        wake.connect(m_endpoint, ignored);
        m_thread.join();
    }
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    unsigned short port() const { return m_endpoint.port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  private:
    boost::asio::io_context m_ioc;
    boost::asio::ip::tcp::acceptor m_acceptor;
    boost::asio::ip::tcp::endpoint m_endpoint;
    Serve m_serve;
    std::atomic<bool> m_stopping{false};
    std::thread m_thread;
};

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Answer = std::function<Response(const Request&, const boost::asio::ip::address& peer)>;

// Reads one request per connection and writes `answer`'s response to it.
inline LoopbackServer::Serve serve_http(Answer answer) {
    return [answer = std::move(answer)](LoopbackServer::Socket& socket) {
        namespace http = boost::beast::http;
        boost::system::error_code ec;
        boost::beast::flat_buffer buffer;
        Request request;
        http::read(socket, buffer, request, ec);
        if (ec) return;
        Response response = answer(request, socket.remote_endpoint(ec).address());
        response.prepare_payload();
        http::write(socket, response, ec);
        socket.shutdown(LoopbackServer::Socket::shutdown_both, ec);
    };
}

// A response with `status` and `body` (as JSON unless told otherwise).
inline Response response(unsigned status, std::string body,
                         std::string content_type = "application/json") {
    Response r{static_cast<boost::beast::http::status>(status), 11};
    r.set(boost::beast::http::field::content_type, content_type);
    r.body() = std::move(body);
    return r;
}

// A port on which nothing listens (it was just bound and released), for refused connections.
inline unsigned short closed_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

}  // namespace proxy::test
