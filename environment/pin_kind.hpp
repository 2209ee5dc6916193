#pragma once

#include <string_view>

namespace environment {

// How tightly a dependency's version is fixed; everything but `exact` can drift over time.
enum class PinKind {
    exact,     // one version: `numpy==1.26.4`, conda `numpy=1.26.4`, a build string
    partial,   // a wildcard or short fuzzy pin: `numpy==1.26.*`, conda `python=3.11`
    range,     // `pandas>=1.3`, `numpy>=1.20,<2`, `~=`, `!=`
    unpinned,  // just a name: `numpy`
    direct,    // a direct reference (`name @ url`) or an editable install
};

std::string_view to_string(PinKind kind);

}  // namespace environment
