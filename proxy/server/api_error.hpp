#pragma once
// What every handler answers with, independent of which API it serves: an error in the OCI
// style ({"errors":[{"code":...,"message":...,"detail":...}]}, which the admin and environment
// APIs use too) and a whole response decided before it is sent.

#include <string>
#include <utility>
#include <vector>

namespace proxy::server {

struct ApiError {
    unsigned status = 500;
    std::string code;  // NAME_INVALID, MANIFEST_UNKNOWN, DENIED, ...
    std::string message;
    std::string detail;  // a JSON string value when not empty; never holds credentials
};

// The JSON body for `error`.
std::string error_body(const ApiError& error);

// A response computed away from the connection (the admin and environment APIs run on the
// cache's threads) and sent by the connection afterwards.
struct ApiResponse {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra: Allow, WWW-Authenticate
};

}  // namespace proxy::server
