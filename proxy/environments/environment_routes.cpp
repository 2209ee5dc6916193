#include "proxy/environments/environment_routes.hpp"

#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "environment/image_reference.hpp"
#include "environment/registry.hpp"
#include "proxy/environments/environment_image.hpp"

namespace proxy::environments {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view k_pull_prefix = "/v2/environments/";

server::ApiError make_error(unsigned status, std::string code, std::string message) {
    return {status, std::move(code), std::move(message), {}};
}

}  // namespace

net::awaitable<bool> serve_environment_api(server::Exchange& ex, EnvironmentContext& context,
                                           bool is_admin, net::any_io_executor executor) {
    const std::string_view target = ex.request.target();
    if (!is_environment_path(target) && !is_curated_path(target)) co_return false;
    const EnvironmentRequest request{ex.request.method_string(), target, ex.request.body(),
                                     is_admin};
    // A cancelled caller (shutdown) ends what this awaits with errors, never by an exception
    // thrown on the records thread.
    auto compute = [&]() -> net::awaitable<EnvironmentResponse> {
        co_await net::this_coro::throw_if_cancelled(false);
        co_return co_await handle_environments(request, context);
    };
    auto computing = net::co_spawn(executor, compute, net::use_awaitable);
    const EnvironmentResponse response = co_await std::move(computing);
    co_await server::send_response(ex, response);
    co_return true;
}

net::awaitable<bool> serve_environment_pull(server::Exchange& ex, store::BlobStore& store,
                                            const RegistryCall& registry) {
    std::string_view path = ex.request.target();
    path = path.substr(0, path.find('?'));
    if (!path.starts_with(k_pull_prefix)) co_return false;
    const auto rest = path.substr(k_pull_prefix.size());
    const auto slash = rest.find('/');
    const std::string hash(rest.substr(0, slash));
    const std::string_view tail =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    const bool manifest = tail.starts_with("manifests/");
    const bool blob = tail.starts_with("blobs/");
    std::string reference(tail.substr(tail.find('/') + 1));

    // Every answer given here is decided first and sent once below (named objects only in
    // co_await expressions: GCC 12 mishandles temporaries there).
    std::optional<server::ApiError> error;
    std::optional<std::string> tags_body;
    std::optional<EnvironmentImage> image;
    if (!environment::is_environment_hash(hash)) {
        error = make_error(400, "NAME_INVALID",
                           "environments/<hash> needs a 64 lowercase hex environment hash");
    } else if (tail == "tags/list") {
        tags_body = boost::json::serialize(boost::json::object{
            {"name", "environments/" + hash}, {"tags", boost::json::array{k_pull_tag}}});
    } else if (!manifest && !blob) {
        error = make_error(404, "NOT_FOUND",
                           "environments/<hash> serves manifests, blobs and tags/list only");
    } else if (manifest && reference != k_pull_tag && !environment::is_sha256_digest(reference)) {
        error = make_error(404, "MANIFEST_UNKNOWN", "an environment has one tag, latest");
    } else {
        auto found = image_for_hash(store, hash);
        if (!found)
            error = make_error(500, "UNKNOWN", "the store failed: " + found.error().message());
        else if (!*found)
            error = make_error(404, manifest ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN",
                               environment_not_built_message(hash));
        else
            image = std::move(**found);
    }
    if (error) {
        co_await server::send_error(ex, *error);
        co_return true;
    }
    if (tags_body) {
        http::fields headers;
        headers.set(http::field::content_type, "application/json");
        co_await server::send_response(ex, http::status::ok, headers, *tags_body);
        co_return true;
    }
    if (manifest && reference == k_pull_tag) reference = image->digest;

    // The same request, aimed at the registered image: the upstream is chosen by the path
    // prefix (its name), so it goes through the cache like any other pull.
    server::Request inner = ex.request;
    inner.target("/v2/" + image->upstream + "/" + image->repository +
                 (manifest ? "/manifests/" : "/blobs/") + reference);
    server::Exchange inner_ex{.stream = ex.stream,
                              .request = inner,
                              .write_timeout = ex.write_timeout,
                              .client_cert_names = ex.client_cert_names};
    co_await registry(inner_ex);
    ex.identity = inner_ex.identity;
    ex.status = inner_ex.status;
    ex.bytes = inner_ex.bytes;
    ex.outcome = inner_ex.outcome;
    ex.keep_alive = inner_ex.keep_alive;
    ex.aborted = inner_ex.aborted;
    co_return true;
}

}  // namespace proxy::environments
