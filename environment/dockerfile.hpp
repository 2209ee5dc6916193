#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/error.hpp"

namespace environment {

// One Dockerfile instruction, normalised: comments and blank lines gone, continuation lines
// joined, whitespace outside quotes collapsed to one space, the keyword upper-cased.
struct DockerInstruction {
    std::string keyword;    // "RUN"
    std::string arguments;  // "apt-get update && apt-get install -y curl"
    int line = 0;           // first line, 1-based

    // "RUN apt-get update && ...", the form in the canonical text.
    std::string text() const { return arguments.empty() ? keyword : keyword + " " + arguments; }
};

// Parses a Dockerfile's text; an unknown instruction is an error naming `file` and the line.
boost::system::result<std::vector<DockerInstruction>, Error> parse_dockerfile(
    std::string_view file, std::string_view content);

}  // namespace environment
