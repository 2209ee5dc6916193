#include "proxy/cli/routes.hpp"

namespace proxy::cli {

server::Router make_router(Endpoints endpoints) {
    // Each API checks its own methods (the registry answers 405 in the OCI style itself).
    server::Router router;
    router.route("/v2", {}, std::move(endpoints.registry))
        .route("/v2/environments", {}, std::move(endpoints.environment_pull))
        .route("/api/v1/environments", {}, std::move(endpoints.environments))
        .route("/api/v1/admin/curated", {}, std::move(endpoints.curated))
        .route("/api/v1/admin", {}, std::move(endpoints.admin));
    if (endpoints.token) router.route("/auth/token", {}, std::move(endpoints.token));
    return router;
}

}  // namespace proxy::cli
