#include <iostream>

#include "proxy/cli/commands.hpp"

namespace proxy::cli {

int serve(Args) {
    std::cerr << "envcache serve: not implemented yet\n";
    return 2;
}

}  // namespace proxy::cli
