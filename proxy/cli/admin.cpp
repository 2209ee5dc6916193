#include <iostream>

#include "proxy/cli/commands.hpp"

namespace proxy::cli {

int admin(Args) {
    std::cerr << "envcache admin: not implemented yet\n";
    return 2;
}

}  // namespace proxy::cli
