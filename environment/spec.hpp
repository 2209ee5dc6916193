#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/bundle.hpp"
#include "environment/conda_dependency.hpp"
#include "environment/dockerfile.hpp"
#include "environment/error.hpp"
#include "environment/image_reference.hpp"
#include "environment/pip_dependencies.hpp"

namespace environment {

// Where something was written.
struct Location {
    std::string file;
    int line = 0;
};

struct CondaEntry {
    CondaDependency dependency;
    Location where;
};

// A parsed environment: what decides the image plus the descriptive fields that do not.
struct Spec {
    // Descriptive: not part of the hash.
    std::string name;
    std::string version;
    std::string description;

    ImageReference base;  // from `image:` or the Dockerfile's first FROM
    Location base_where;
    std::string platform;                  // FROM --platform=..., empty if none
    std::string stage;                     // FROM ... AS <stage>, empty if none
    std::vector<DockerInstruction> steps;  // Docker steps after the base FROM, in order
    std::string dockerfile_name;           // the file the steps came from

    bool has_conda_file = false;
    std::string conda_file_name;
    int conda_dependencies_line = 0;    // line of the `dependencies:` key, 0 if none
    std::vector<std::string> channels;  // in order: order is priority
    std::vector<CondaEntry> conda;      // `dependencies`, in written order
    PipDependencies pip;                // conda `pip:` list + requirements.txt + includes

    // The conda `python` dependency, if any.
    const CondaEntry* python() const;
};

// Parses a bundle. A malformed part is an error naming its file, line and column.
boost::system::result<Spec, Error> parse_spec(const Bundle& bundle);

}  // namespace environment
