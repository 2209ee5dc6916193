#pragma once
// Sends each request to the handler of the longest path prefix that matches it, so the server
// knows no API: the registry, environment and admin handlers are routes.
//
// A prefix matches a path equal to it or continuing with '/' ("/v2" matches "/v2/x/manifests/1"
// and "/v2", not "/v2x"); the query is ignored. A route may name the methods it takes: others
// get 405 with an Allow header. A path no route matches gets 404 NOT_FOUND.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include "proxy/server/exchange.hpp"

namespace proxy::server {

class Router {
  public:
    using Handler = std::function<net::awaitable<void>(Exchange&)>;

    // Adds a route; `methods` empty: every method. Routes are fixed before the first request.
    Router& route(std::string prefix, std::vector<http::verb> methods, Handler handler);

    // Answers one request through its route, or with 404/405.
    net::awaitable<void> operator()(Exchange& ex) const;

    // The prefix of the route a target goes to; empty when none matches.
    std::string_view match(std::string_view target) const;

  private:
    struct Route {
        std::string prefix;
        std::vector<http::verb> methods;
        Handler handler;
    };
    const Route* find(std::string_view target) const;

    std::vector<Route> m_routes;
};

}  // namespace proxy::server
