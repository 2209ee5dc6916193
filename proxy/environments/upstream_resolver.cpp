#include "proxy/environments/upstream_resolver.hpp"

#include <array>
#include <optional>
#include <string>
#include <variant>

#include <boost/beast/http/error.hpp>

#include "environment/image_reference.hpp"
#include "proxy/registry/media_types.hpp"
#include "proxy/registry/route.hpp"
#include "proxy/upstream/small_answer.hpp"
#include "store/sha256.hpp"

namespace proxy::environments {

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using boost::system::result;

// Manifests are small; an upstream answering more than this is not sending a manifest.

boost::system::error_code bad_answer() {
    return make_error_code(boost::system::errc::protocol_error);
}

std::string field(const http::fields& headers, http::field name) {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : std::string(it->value());
}

// The media type without parameters ("application/x; charset=utf-8" -> "application/x").
std::string bare_media_type(std::string value) {
    value = value.substr(0, value.find(';'));
    while (!value.empty() && value.back() == ' ')
        value.pop_back();
    return value;
}

net::awaitable<result<ResolvedImage>> resolve_one(
    const std::vector<config::UpstreamConfig>* upstreams_ptr,
    std::vector<upstream::Client*> clients, std::string text) {
    const auto& upstreams = *upstreams_ptr;
    auto reference = environment::parse_image_reference(text);
    if (!reference) co_return result<ResolvedImage>(make_error_code(resolve_errc::not_found));

    auto target = registry::select_upstream(upstreams, reference->registry, reference->repository);
    if (std::holds_alternative<registry::OciError>(target) && reference->registry == "docker.io")
        target = registry::select_upstream(upstreams, std::nullopt, reference->repository);
    if (std::holds_alternative<registry::OciError>(target))
        co_return result<ResolvedImage>(make_error_code(resolve_errc::no_upstream));
    const auto& chosen = std::get<registry::UpstreamTarget>(target);
    if (chosen.index >= clients.size() || clients[chosen.index] == nullptr)
        co_return result<ResolvedImage>(make_error_code(resolve_errc::no_upstream));
    auto& client = *clients[chosen.index];

    ResolvedImage out;
    out.upstream = upstreams[chosen.index].name;
    out.repository = chosen.repo;
    out.tag = reference->digest.empty() ? (reference->tag.empty() ? "latest" : reference->tag)
                                        : std::string();
    const std::string ref = reference->digest.empty() ? out.tag : reference->digest;

    for (const auto method : {http::verb::head, http::verb::get}) {
        upstream::Request request;
        request.method = method;
        request.target = "/v2/" + chosen.repo + "/manifests/" + ref;
        request.scope = "repository:" + chosen.repo + ":pull";
        request.headers.set(http::field::accept, registry::all_manifest_types());
        auto fetching =
            upstream::fetch_small(client, std::move(request), upstream::k_max_manifest_bytes);
        auto answer = co_await std::move(fetching);
        if (!answer) {
            if (answer.error() == http::error::body_limit)
                co_return result<ResolvedImage>(bad_answer());
            co_return result<ResolvedImage>(answer.error());
        }
        if (answer->status == 404)
            co_return result<ResolvedImage>(make_error_code(resolve_errc::not_found));
        if (answer->status != 200) co_return result<ResolvedImage>(bad_answer());
        out.media_type = bare_media_type(field(answer->headers, http::field::content_type));
        if (method == http::verb::head) {
            const auto it = answer->headers.find("Docker-Content-Digest");
            std::string digest =
                it == answer->headers.end() ? std::string() : std::string(it->value());
            if (environment::is_sha256_digest(digest)) {
                out.digest = std::move(digest);
                co_return out;
            }
            continue;  // no usable digest header: hash the body instead
        }
        out.digest = store::Sha256::of(answer->body).str();
        if (!reference->digest.empty() && out.digest != reference->digest)
            co_return result<ResolvedImage>(bad_answer());
        co_return out;
    }
    co_return result<ResolvedImage>(bad_answer());
}

}  // namespace

ImageResolver make_upstream_resolver(const std::vector<config::UpstreamConfig>& upstreams,
                                     std::vector<upstream::Client*> clients) {
    return [upstreams = &upstreams, clients = std::move(clients)](std::string reference) {
        // Arguments are copied into the coroutine frame: nothing refers to the lambda after.
        return resolve_one(upstreams, clients, std::move(reference));
    };
}

}  // namespace proxy::environments
