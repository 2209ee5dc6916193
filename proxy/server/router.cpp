#include "proxy/server/router.hpp"

#include <algorithm>

namespace proxy::server {

namespace {

bool under(std::string_view path, std::string_view prefix) {
    return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

std::string allow_header(const std::vector<http::verb>& methods) {
    std::string allow;
    for (const auto method : methods) {
        if (!allow.empty()) allow += ", ";
        allow += std::string(http::to_string(method));
    }
    return allow;
}

}  // namespace

Router& Router::route(std::string prefix, std::vector<http::verb> methods, Handler handler) {
    m_routes.push_back({std::move(prefix), std::move(methods), std::move(handler)});
    return *this;
}

const Router::Route* Router::find(std::string_view target) const {
    const std::string_view path = target.substr(0, target.find('?'));
    const Route* best = nullptr;
    for (const auto& r : m_routes)
        if (under(path, r.prefix) && (!best || r.prefix.size() > best->prefix.size())) best = &r;
    return best;
}

std::string_view Router::match(std::string_view target) const {
    const Route* r = find(target);
    return r ? std::string_view(r->prefix) : std::string_view();
}

namespace {

net::awaitable<void> send_not_found(Exchange& ex) {
    const ApiError error{404, "NOT_FOUND", "not found", ""};
    co_await send_error(ex, error);
}

net::awaitable<void> send_not_allowed(Exchange& ex, const std::vector<http::verb>& methods) {
    const ApiError error{405, "UNSUPPORTED", "the operation is unsupported", ""};
    http::fields headers;
    headers.set(http::field::allow, allow_header(methods));
    co_await send_error(ex, error, headers);
}

}  // namespace

// Not a coroutine: the chosen handler's own coroutine is what the caller awaits.
net::awaitable<void> Router::operator()(Exchange& ex) const {
    const Route* r = find(ex.request.target());
    if (!r) return send_not_found(ex);
    const auto& methods = r->methods;
    if (!methods.empty() &&
        std::find(methods.begin(), methods.end(), ex.request.method()) == methods.end())
        return send_not_allowed(ex, methods);
    return r->handler(ex);
}

}  // namespace proxy::server
