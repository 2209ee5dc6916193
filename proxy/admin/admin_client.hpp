#pragma once
// A small synchronous HTTP/1.1 client for the admin CLI: one request per connection, plain
// http (the admin API is served on loopback or behind a token), bounded time and body size.

#include <chrono>
#include <string>
#include <string_view>

namespace proxy {

struct AdminReply {
    unsigned status = 0;
    std::string body;
    std::string failure;  // set when no reply arrived (bad URL, refused, timeout); status 0
};

// Sends `method target` to the server at `server_url` ("http://127.0.0.1:5000"). `body`, if not
// empty, is sent as JSON. `token`, if not empty, as `Authorization: Bearer <token>`.
AdminReply admin_call(std::string_view server_url, std::string_view method, std::string_view target,
                      std::string_view body, std::string_view token,
                      std::chrono::seconds timeout = std::chrono::seconds(60));

// The message of an error reply: the first OCI error's message, {"error": ...}, or the body.
std::string error_message(const AdminReply& reply);

}  // namespace proxy
