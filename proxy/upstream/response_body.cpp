#include "proxy/upstream/response_body.hpp"

#include <array>

#include "proxy/upstream/upstream_error.hpp"

namespace proxy::upstream {

net::awaitable<void> discard_body(Response& response) {
    if (response.content_length().value_or(0) > k_drain_limit) {
        co_return;
    }
    std::array<char, 8192> scratch{};
    std::size_t total = 0;
    while (total <= k_drain_limit) {
        auto [ec, n] = co_await response.read_some(net::buffer(scratch));
        if (ec || n == 0) {
            co_return;
        }
        total += n;
    }
}

net::awaitable<boost::system::result<std::string>> read_body(Response& response,
                                                             std::size_t limit) {
    std::string body;
    std::array<char, 8192> scratch{};
    while (true) {
        auto [ec, n] = co_await response.read_some(net::buffer(scratch));
        if (ec) {
            co_return ec;
        }
        if (n == 0) {
            co_return std::move(body);
        }
        if (body.size() + n > limit) {
            co_return make_error_code(Error::body_too_large);
        }
        body.append(scratch.data(), n);
    }
}

}  // namespace proxy::upstream
