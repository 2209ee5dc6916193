#pragma once

#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>

namespace environment {

// Why a spec could not be read: the file it came from, 1-based line and column (0 = unknown).
struct Error {
    Error() = default;
    Error(std::string file_, int line_, int column_, std::string message_)
        : file(std::move(file_)), line(line_), column(column_), message(std::move(message_)) {}

    std::string file;
    int line = 0;
    int column = 0;
    std::string message;

    // "file:line:column: message" (line and column left out when unknown).
    std::string str() const;
};

// Lets boost::system::result<T, Error>::value() throw; only used off the request path.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace environment
