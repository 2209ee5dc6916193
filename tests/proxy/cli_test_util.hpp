#pragma once
// What the CLI tests share: an API's answer as the loopback server's response, and a CLI
// command run in-process with its output captured.

#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cli/commands.hpp"
#include "proxy/server/api_error.hpp"
#include "tests/proxy/loopback_server.hpp"

namespace proxy::test {

inline Response to_response(const server::ApiResponse& r) {
    Response res = response(r.status, r.body, r.content_type);
    for (const auto& [k, v] : r.headers)
        res.set(k, v);
    return res;
}

struct Output {
    int code = 0;
    std::string out;
    std::string err;
};

// Runs `command` (cli::admin, cli::env) with `words` as its arguments.
inline Output run_command(int (*command)(cli::Args), std::vector<std::string> words) {
    std::vector<std::string_view> args(words.begin(), words.end());
    std::ostringstream out;
    std::ostringstream err;
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    auto* old_err = std::cerr.rdbuf(err.rdbuf());
    const int code = command(args);
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    return {code, out.str(), err.str()};
}

}  // namespace proxy::test
