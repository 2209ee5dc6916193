#include "proxy/cli/access_gate.hpp"

#include <boost/json.hpp>

namespace proxy::cli {

namespace http = boost::beast::http;

access::Caller AccessGate::identify(server::Exchange& ex) const {
    auto caller =
        access.identities.identify(ex.request[http::field::authorization], ex.client_cert_names,
                                   access::Identities::Clock::now());
    if (caller.identified()) ex.identity = caller.name;
    return caller;
}

net::awaitable<bool> AccessGate::admit(server::Exchange& ex, const access::Caller& caller,
                                       bool allowed) const {
    if (!access.policy.enabled()) co_return true;
    if (allowed && caller.kind != access::Caller::Kind::refused) co_return true;
    if (caller.identified()) {
        const server::ApiError error{403, "DENIED", "requested access to the resource is denied",
                                     ""};
        co_await server::send_error(ex, error);
        co_return false;
    }
    http::fields headers;
    headers.set(http::field::www_authenticate, registry::own_challenge(ex, access));
    const server::ApiError error{401, "UNAUTHORIZED", "authentication required", ""};
    co_await server::send_error(ex, error, headers);
    co_return false;
}

net::awaitable<void> AccessGate::serve_token(server::Exchange& ex) const {
    if (ex.request.method() != http::verb::get) {
        const server::ApiError error{405, "UNSUPPORTED", "the token endpoint takes GET", ""};
        http::fields headers;
        headers.set(http::field::allow, "GET");
        co_await server::send_error(ex, error, headers);
        co_return;
    }
    const access::Caller caller = identify(ex);
    if (caller.kind == access::Caller::Kind::refused || !access.identities.enabled()) {
        http::fields headers;
        headers.set(http::field::www_authenticate, "Basic realm=\"envcache\"");
        const server::ApiError error{401, "UNAUTHORIZED", "valid credentials are required", ""};
        co_await server::send_error(ex, error, headers);
        co_return;
    }
    const auto now = access::Identities::Clock::now();
    const std::string token = access.identities.issue(caller, now);
    const auto ttl = access.identities.issued_ttl().count();
    const std::string body = boost::json::serialize(
        boost::json::object{{"token", token}, {"access_token", token}, {"expires_in", ttl}});
    http::fields headers;
    headers.set(http::field::content_type, "application/json");
    headers.set(http::field::cache_control, "no-store");
    co_await server::send_response(ex, http::status::ok, headers, body);
}

}  // namespace proxy::cli
