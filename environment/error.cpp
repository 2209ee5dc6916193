#include "environment/error.hpp"

#include <stdexcept>

namespace environment {

std::string Error::str() const {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (line > 0) {
        out += ':' + std::to_string(line);
        if (column > 0) out += ':' + std::to_string(column);
    }
    out += ": ";
    out += message;
    return out;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw std::runtime_error(e.str());
}

}  // namespace environment
