#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <boost/system/result.hpp>

#include "environment/error.hpp"
#include "environment/pip_dependencies.hpp"

namespace environment {

// A file's name (for messages and relative paths) and its text.
struct SourceText {
    std::string name;
    std::string text;
};

// Everything an environment is made of, as texts: what the API receives and what the file
// loader builds from disk. Parsing and hashing work on a bundle only, never on the file system.
struct Bundle {
    SourceText environment;                  // the environment YAML
    std::optional<SourceText> conda_file;    // the conda file (or `conda_file:` inline in YAML)
    std::optional<SourceText> requirements;  // a requirements.txt
    std::optional<SourceText> dockerfile;    // Docker steps, or a full Dockerfile with FROM
    Includes includes;                       // files that -r/-c lines reference
};

// Default names for bundle parts that arrive without one (the API sends texts only).
inline constexpr std::string_view k_default_environment_name = "environment.yml";
inline constexpr std::string_view k_default_conda_name = "conda.yml";
inline constexpr std::string_view k_default_requirements_name = "requirements.txt";
inline constexpr std::string_view k_default_dockerfile_name = "Dockerfile";

// Reads ENV.yml and the files it references (conda_file, build.path/dockerfile_path, and every
// -r/-c include), paths relative to the file that names them. `requirements` is an extra
// requirements.txt given outside the environment file. Names in the bundle are the paths as
// given (joined to the referring file's directory).
boost::system::result<Bundle, Error> load_bundle(
    const std::filesystem::path& environment_file,
    const std::optional<std::filesystem::path>& requirements = std::nullopt);

}  // namespace environment
