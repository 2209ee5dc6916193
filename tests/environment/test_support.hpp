#pragma once
// Helpers shared by the environment tests: bundles from literal texts and fake resolvers.

#include <map>
#include <optional>
#include <string>

#include "environment/bundle.hpp"
#include "environment/environment_hash.hpp"

namespace environment::testing {

inline Bundle make_bundle(std::string env, std::optional<std::string> conda = std::nullopt,
                          std::optional<std::string> requirements = std::nullopt,
                          std::optional<std::string> dockerfile = std::nullopt) {
    Bundle b;
    b.environment = {"env.yml", std::move(env)};
    if (conda) b.conda_file = SourceText{"conda.yml", std::move(*conda)};
    if (requirements) b.requirements = SourceText{"requirements.txt", std::move(*requirements)};
    if (dockerfile) b.dockerfile = SourceText{"Dockerfile", std::move(*dockerfile)};
    return b;
}

inline std::string digest_of(char c) {
    return "sha256:" + std::string(64, c);
}

// Resolves references from a table; anything else is "not found".
inline ResolveImage table_resolver(std::map<std::string, std::string> table) {
    return [table = std::move(table)](std::string_view ref) -> boost::system::result<std::string> {
        const auto it = table.find(std::string(ref));
        if (it == table.end())
            return boost::system::errc::make_error_code(
                boost::system::errc::no_such_file_or_directory);
        return it->second;
    };
}

// The usual resolver of these tests: ubuntu:22.04 -> sha256:aaaa..., python:3.11 -> bbbb...
inline ResolveImage default_resolver() {
    return table_resolver({
        {"docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu@" + digest_of('a')},
        {"docker.io/library/ubuntu:latest", "docker.io/library/ubuntu@" + digest_of('c')},
        {"docker.io/library/python:3.11", digest_of('b')},
    });
}

// Hash of a bundle with the default resolver; fails the test on error.
inline HashedEnvironment hashed(const Bundle& bundle,
                                const ResolveImage& resolve = default_resolver()) {
    auto h = hash_bundle(bundle, resolve);
    if (!h) throw std::runtime_error(h.error().str());
    return std::move(*h);
}

}  // namespace environment::testing
