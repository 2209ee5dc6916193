#pragma once
// Glue between the HTTP server and the environment API: the two calls the server's request
// handler makes before the registry and admin handlers.

#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "proxy/environments/environment_api.hpp"
#include "proxy/server/exchange.hpp"
#include "store/blob_store.hpp"

namespace proxy::environments {

// Answers the request if its path is /api/v1/environments[/...] or /api/v1/admin/curated[/...]
// and returns true; returns false (nothing sent) for any other path. `is_admin`: the caller
// passed the admin API's access rules (only consulted on the curated path). The answer is
// computed on `executor` (the cache's records thread: registering writes the store).
boost::asio::awaitable<bool> serve_environment_api(server::Exchange& ex,
                                                   EnvironmentContext& context, bool is_admin,
                                                   boost::asio::any_io_executor executor);

// The registry handler, called with a rewritten request.
using RegistryCall = std::function<boost::asio::awaitable<void>(server::Exchange&)>;

// Pull by environment: for /v2/environments/<hash>/... answers and returns true; false (nothing
// sent) for other paths.
//   manifests/latest      -> the registered image's manifest, by digest, through `registry`
//                            (as /v2/<upstream>/<repository>/manifests/<digest>)
//   manifests/sha256:...  -> that digest from the registered image's repository
//   blobs/sha256:...      -> that blob from the registered image's repository
//   tags/list             -> {"name": "environments/<hash>", "tags": ["latest"]}
// An unmapped hash: 404 MANIFEST_UNKNOWN (BLOB_UNKNOWN for blobs) with
// environment_not_built_message(hash).
boost::asio::awaitable<bool> serve_environment_pull(server::Exchange& ex, store::BlobStore& store,
                                                    const RegistryCall& registry);

}  // namespace proxy::environments
