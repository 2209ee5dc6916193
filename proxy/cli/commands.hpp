#pragma once
// The envcache sub-commands. Each takes the arguments after its name and returns the exit code.

#include <span>
#include <string_view>

namespace proxy::cli {

using Args = std::span<const std::string_view>;

int serve(Args args);   // envcache serve --config FILE
int verify(Args args);  // envcache verify --config FILE
int admin(Args args);   // envcache admin stats|limits|pins|evict --server URL
int env(Args args);     // envcache env hash|lint|resolve|register|dockerfile ...

}  // namespace proxy::cli
