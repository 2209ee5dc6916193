// An environment as its files: the environment YAML, then a conda file, a requirements.txt and
// a Dockerfile, each after a line "%%". Parsed, hashed offline and linted.
#include <cstdint>

#include "environment/bundle.hpp"
#include "environment/environment_hash.hpp"
#include "environment/spec.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace environment;
    const auto parts = fuzz::split_parts(fuzz::as_text(data, size), 5);
    Bundle bundle;
    bundle.environment = {std::string(k_default_environment_name), std::string(parts[0])};
    if (parts.size() > 1 && !parts[1].empty())
        bundle.conda_file = {std::string(k_default_conda_name), std::string(parts[1])};
    if (parts.size() > 2 && !parts[2].empty())
        bundle.requirements = {std::string(k_default_requirements_name), std::string(parts[2])};
    if (parts.size() > 3 && !parts[3].empty())
        bundle.dockerfile = {std::string(k_default_dockerfile_name), std::string(parts[3])};
    if (parts.size() > 4) bundle.includes["base.txt"] = std::string(parts[4]);
    const auto spec = parse_spec(bundle);
    if (!spec) return 0;
    const auto hashed = hash_environment(*spec, {});
    if (hashed && hashed->hash.size() != 64) __builtin_trap();
    return 0;
}
