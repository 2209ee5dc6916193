#pragma once

#include <string>
#include <vector>

#include "environment/environment_hash.hpp"
#include "environment/spec.hpp"

namespace environment {

// A file the rendered Dockerfile COPYs, relative to the build context root.
struct ContextFile {
    std::string path;
    std::string text;
};

// What a builder (BuildKit, buildah, kaniko) needs to build a spec's image.
struct RenderedBuild {
    std::string dockerfile;
    std::vector<ContextFile> files;  // to be placed in the build context next to the Dockerfile
};

inline constexpr std::string_view k_setup_dir = "envcache-setup";

// The Dockerfile for `spec` hashed as `hashed`: FROM the base pinned by digest (or as written,
// with a warning comment, when offline), the Docker steps, a conda environment at
// /envs/<hash> created from the normalised conda file (a venv when there is only pip), the pip
// requirements installed into it, PATH pointing at it. The context files are generated from
// the canonical dependencies, so the build installs exactly what was hashed.
RenderedBuild render_build(const Spec& spec, const HashedEnvironment& hashed);

}  // namespace environment
