#pragma once
// envcache's routing table: which API answers which path prefix.

#include "proxy/server/router.hpp"

namespace proxy::cli {

// One handler per API; each answers every request the router gives it.
struct Endpoints {
    server::Router::Handler registry;          // /v2/...: the OCI pull API
    server::Router::Handler environment_pull;  // /v2/environments/<hash>/...: pull by hash
    server::Router::Handler environments;      // /api/v1/environments/...
    server::Router::Handler curated;           // /api/v1/admin/curated/...: admin access
    server::Router::Handler admin;             // /api/v1/admin/...
    server::Router::Handler token;             // /auth/token: envcache's bearer tokens
};

server::Router make_router(Endpoints endpoints);

}  // namespace proxy::cli
