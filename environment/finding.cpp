#include "environment/finding.hpp"

#include <algorithm>

namespace environment {

std::string_view to_string(Severity severity) {
    return severity == Severity::warning ? "warning" : "info";
}

std::string Finding::str() const {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    out += to_string(severity);
    out += ": [" + rule + "] " + message;
    return out;
}

bool has_warnings(const std::vector<Finding>& findings) {
    return std::any_of(findings.begin(), findings.end(),
                       [](const Finding& f) { return f.severity == Severity::warning; });
}

}  // namespace environment
