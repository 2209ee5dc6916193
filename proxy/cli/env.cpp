#include <iostream>

#include "proxy/cli/commands.hpp"

namespace proxy::cli {

int env(Args) {
    std::cerr << "envcache env: not implemented yet\n";
    return 2;
}

}  // namespace proxy::cli
