#include "proxy/admin/admin_requests.hpp"

#include <boost/json.hpp>

#include "config/units.hpp"

namespace proxy {

namespace json = boost::json;

namespace {

std::variant<json::object, AdminResponse> parse_object(std::string_view body) {
    if (body.empty())
        return admin_error(400, "INVALID_REQUEST", "the request body must be a JSON object");
    boost::system::error_code ec;
    auto value = json::parse(body, ec);
    if (ec)
        return admin_error(400, "INVALID_REQUEST", "the request body is not JSON: " + ec.message());
    if (!value.is_object())
        return admin_error(400, "INVALID_REQUEST", "the request body must be a JSON object");
    return std::move(value.get_object());
}

}  // namespace

AdminResponse admin_error(unsigned status, std::string_view code, std::string_view message) {
    json::object e;
    e["code"] = code;
    e["message"] = message;
    json::array errors;
    errors.push_back(std::move(e));
    json::object o;
    o["errors"] = std::move(errors);
    AdminResponse r;
    r.status = status;
    r.body = json::serialize(o);
    return r;
}

std::variant<std::string, AdminResponse> parse_pin_body(std::string_view body) {
    auto parsed = parse_object(body);
    if (auto* refused = std::get_if<AdminResponse>(&parsed)) return std::move(*refused);
    const auto& obj = std::get<json::object>(parsed);
    auto it = obj.find("pin");
    if (it == obj.end() || !it->value().is_string())
        return admin_error(400, "INVALID_REQUEST", "expected {\"pin\": \"...\"}");
    return std::string(it->value().get_string());
}

std::variant<cache::Limits, AdminResponse> parse_limits_body(std::string_view body,
                                                             cache::Limits current) {
    auto parsed = parse_object(body);
    if (auto* refused = std::get_if<AdminResponse>(&parsed)) return std::move(*refused);
    if (auto problem = cache::apply_patch(current, std::get<json::object>(parsed)))
        return admin_error(400, "INVALID_LIMITS", *problem);
    if (auto problem = cache::validate(current))
        return admin_error(400, "INVALID_LIMITS", *problem);
    return current;
}

std::variant<EvictRequest, AdminResponse> parse_evict_body(std::string_view body) {
    auto parsed = parse_object(body);
    if (auto* refused = std::get_if<AdminResponse>(&parsed)) return std::move(*refused);
    EvictRequest request;
    for (const auto& [key, value] : std::get<json::object>(parsed)) {
        if (key == "dry_run") {
            if (!value.is_bool()) return admin_error(400, "INVALID_REQUEST", "dry_run: a boolean");
            request.dry_run = value.get_bool();
        } else if (key == "target_size") {
            if (value.is_string()) {
                auto size = config::parse_size(std::string_view(value.get_string()));
                if (!size) return admin_error(400, "INVALID_REQUEST", size.error().message);
                request.target_size = *size;
            } else if (value.is_uint64() || (value.is_int64() && value.get_int64() >= 0)) {
                request.target_size = value.to_number<std::uint64_t>();
            } else {
                return admin_error(400, "INVALID_REQUEST",
                                   "target_size: a size such as \"5GiB\" or a number of bytes");
            }
        } else if (key == "digest") {
            if (value.is_string())
                request.digest = store::Digest::parse(std::string_view(value.get_string()));
            if (!request.digest)
                return admin_error(400, "DIGEST_INVALID", "digest: sha256:<64 lowercase hex>");
        } else {
            return admin_error(400, "INVALID_REQUEST",
                               "unknown field \"" + std::string(key) + "\"");
        }
    }
    if (request.target_size.has_value() == request.digest.has_value())
        return admin_error(400, "INVALID_REQUEST", "give exactly one of target_size and digest");
    return request;
}

}  // namespace proxy
