#include "proxy/upstream/small_answer.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace proxy::upstream {

std::string joined_header(const http::fields& fields, http::field name) {
    std::string out;
    for (auto [it, end] = fields.equal_range(name); it != end; ++it) {
        if (!out.empty()) out += ", ";
        out.append(it->value().data(), it->value().size());
    }
    return out;
}

net::awaitable<boost::system::result<SmallAnswer>> fetch_small(Client& client, Request request,
                                                               std::size_t cap) {
    const bool head = request.method == http::verb::head;
    auto sending = client.send(std::move(request));
    auto sent = co_await std::move(sending);
    if (!sent) co_return sent.error();
    Response& response = **sent;
    SmallAnswer answer;
    answer.status = response.status();
    answer.headers = response.headers();
    if (head) co_return answer;
    std::string buffer(16 * 1024, '\0');
    for (;;) {
        auto [ec, n] = co_await response.read_some(net::buffer(buffer));
        if (ec) co_return ec;
        if (n == 0) break;
        if (answer.body.size() + n > cap) co_return make_error_code(http::error::body_limit);
        answer.body.append(buffer.data(), n);
    }
    co_return answer;
}

}  // namespace proxy::upstream
