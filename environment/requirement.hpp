#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/pin_kind.hpp"

namespace environment {

// PEP 503 name normalisation: lower case, every run of '-', '_' and '.' becomes one '-'.
std::string normalize_pip_name(std::string_view name);

// One PEP 508 requirement (a requirements.txt line or a conda file's `pip:` entry), normalised.
struct Requirement {
    Requirement() = default;  // not an aggregate, so result<Requirement, string> works

    std::string name;                     // PEP 503-normalised
    std::vector<std::string> extras;      // PEP 503-normalised, sorted, unique
    std::vector<std::string> specifiers;  // whitespace removed, lower-cased, sorted: "==1.26.4"
    std::string url;                      // direct reference after `@`, empty if none
    std::string marker;                   // normalised environment marker, empty if none
    std::vector<std::string> hashes;      // from --hash=..., sorted: "sha256:..."

    // "name[extras]specs[@url][;marker][ --hash=...]", the form in the canonical text.
    std::string canonical() const;
    PinKind pin() const;
};

// Parses a PEP 508 requirement; the error is a message without location.
boost::system::result<Requirement, std::string> parse_requirement(std::string_view text);

}  // namespace environment
