#include "proxy/server/api_error.hpp"

#include <boost/json.hpp>

namespace proxy::server {

namespace json = boost::json;

std::string error_body(const ApiError& error) {
    json::object entry;
    entry["code"] = error.code;
    entry["message"] = error.message;
    if (!error.detail.empty()) entry["detail"] = error.detail;
    json::array errors;
    errors.push_back(std::move(entry));
    json::object body;
    body["errors"] = std::move(errors);
    return json::serialize(body);
}

}  // namespace proxy::server
