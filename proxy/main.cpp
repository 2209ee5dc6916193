#include <iostream>
#include <string_view>
#include <vector>

#include "proxy/cli/commands.hpp"

namespace {

constexpr std::string_view k_usage =
    "usage: envcache <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve --config FILE     run the registry mirror\n"
    "  verify --config FILE    re-hash every stored blob, remove corrupt ones\n"
    "  admin ...               stats, limits, pins, evict on a running server\n"
    "  env ...                 environment hashes: hash, lint, resolve, register, dockerfile\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << k_usage;
        return 2;
    }
    const std::vector<std::string_view> args(argv + 2, argv + argc);
    const std::string_view command = argv[1];
    if (command == "serve") return proxy::cli::serve(args);
    if (command == "verify") return proxy::cli::verify(args);
    if (command == "admin") return proxy::cli::admin(args);
    if (command == "env") return proxy::cli::env(args);
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << k_usage;
        return 0;
    }
    std::cerr << "envcache: unknown command '" << command << "'\n" << k_usage;
    return 2;
}
