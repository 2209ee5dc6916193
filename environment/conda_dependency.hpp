#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "environment/pin_kind.hpp"

namespace environment {

// One conda match spec from a conda file's `dependencies`, normalised.
//   numpy                    -> name "numpy"
//   numpy=1.26.4             -> version "=1.26.4"   (conda's fuzzy `=`; `=1.26.*` is the same)
//   numpy==1.26.4, numpy 1.26.4 -> version "==1.26.4"
//   numpy=1.26.4=py311h_0, numpy 1.26.4 py311h_0 -> version "==1.26.4", build "py311h_0"
//   pytorch::pytorch         -> channel "pytorch", name "pytorch"
//   numpy >= 1.20, <2        -> version ">=1.20,<2" (whitespace removed, comma parts sorted)
struct CondaDependency {
    CondaDependency() = default;  // not an aggregate, so result<CondaDependency, string> works

    std::string channel;  // as written before `::`, empty if none
    std::string name;     // lower-cased
    std::string version;  // the constraint including its operator, empty if none
    std::string build;    // build string, empty if none

    // "[channel::]name[version][=build]", the form that goes into the canonical text.
    std::string canonical() const;
    PinKind pin() const;
};

// Parses one match spec; the error is a message without location.
boost::system::result<CondaDependency, std::string> parse_conda_dependency(std::string_view spec);

}  // namespace environment
