#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace environment {

// info: worth knowing, does not make the image drift; warning: can change the hash or the built
// image over time.
enum class Severity { info, warning };

std::string_view to_string(Severity severity);

// One drift-lint finding.
struct Finding {
    std::string rule;  // "unpinned", "range", "partial", "floating-base", ...
    Severity severity = Severity::warning;
    std::string file;
    int line = 0;
    std::string subject;  // the package or image concerned
    std::string message;  // why it can change the hash or the built image over time

    // "file:line: warning: [rule] message".
    std::string str() const;
};

// Whether any finding has warning severity.
bool has_warnings(const std::vector<Finding>& findings);

}  // namespace environment
