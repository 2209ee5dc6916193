#pragma once
// The access rules at the doors of the environment and admin APIs, and envcache's token
// endpoint (/auth/token) for clients that follow the registry token flow.

#include <boost/asio/awaitable.hpp>

#include "proxy/access/identities.hpp"
#include "proxy/access/policy.hpp"
#include "proxy/registry/registry_handler.hpp"
#include "proxy/server/exchange.hpp"

namespace proxy::cli {

namespace net = boost::asio;

struct AccessGate {
    const registry::PullAccess& access;

    // The caller of `ex`; its identity goes to the access log.
    access::Caller identify(server::Exchange& ex) const;

    // True if `allowed`; else sends 401 with envcache's challenge (a caller without valid
    // credentials) or 403 (an identity without the right) and returns false.
    net::awaitable<bool> admit(server::Exchange& ex, const access::Caller& caller,
                               bool allowed) const;

    // GET /auth/token: a bearer token for the caller's Basic credentials or certificate (an
    // anonymous one without either); 401 for wrong credentials.
    net::awaitable<void> serve_token(server::Exchange& ex) const;
};

}  // namespace proxy::cli
