#include <iostream>

#include "proxy/cli/commands.hpp"

namespace proxy::cli {

int verify(Args) {
    std::cerr << "envcache verify: not implemented yet\n";
    return 2;
}

}  // namespace proxy::cli
