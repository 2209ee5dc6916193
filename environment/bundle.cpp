#include "environment/bundle.hpp"

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace environment {

namespace {

using boost::system::result;

result<std::string, Error> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path, 0, 0, "cannot read file"};
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Error{path, 0, 0, "error while reading file"};
    return ss.str();
}

// Adds to `includes` every file that -r/-c lines of `text` (written in `from`) reference,
// recursively. A file that cannot be read is left out: the parser reports it with its line.
void collect_includes(const std::string& from, const std::string& text, Includes& includes,
                      int depth) {
    if (depth > 16) return;
    for (const auto& ref : include_references(text)) {
        const auto key = include_key(from, ref);
        if (includes.contains(key)) continue;
        auto content = read_text(key);
        if (!content) continue;
        includes.emplace(key, *content);
        collect_includes(key, includes.at(key), includes, depth + 1);
    }
}

// The pip: entries of a conda file that are -r/-c lines, as one requirements-like text.
std::string conda_pip_lines(const YAML::Node& conda) {
    std::string out;
    if (!conda.IsMap() || !conda["dependencies"] || !conda["dependencies"].IsSequence()) return out;
    for (const auto& d : conda["dependencies"]) {
        if (!d.IsMap() || !d["pip"] || !d["pip"].IsSequence()) continue;
        for (const auto& p : d["pip"])
            if (p.IsScalar()) out += p.Scalar() + "\n";
    }
    return out;
}

}  // namespace

result<Bundle, Error> load_bundle(const std::filesystem::path& environment_file,
                                  const std::optional<std::filesystem::path>& requirements) {
    Bundle bundle;
    bundle.environment.name = environment_file.generic_string();
    auto env_text = read_text(bundle.environment.name);
    if (!env_text) return env_text.error();
    bundle.environment.text = std::move(*env_text);
    const auto relative = [&](const std::string& p) {
        return include_key(bundle.environment.name, p);
    };

    // Only what is needed to find the other files; parse_spec reports malformed input.
    YAML::Node root;
    try {
        root = YAML::Load(bundle.environment.text);
    } catch (const YAML::Exception&) {
        return bundle;
    }
    try {
        if (root.IsMap() && root["conda_file"] && root["conda_file"].IsScalar()) {
            const auto path = relative(root["conda_file"].Scalar());
            auto text = read_text(path);
            if (!text) return text.error();
            bundle.conda_file = SourceText{path, std::move(*text)};
            try {
                const auto pip = conda_pip_lines(YAML::Load(bundle.conda_file->text));
                collect_includes(path, pip, bundle.includes, 0);
            } catch (const YAML::Exception&) {
            }
        } else if (root.IsMap() && root["conda_file"] && root["conda_file"].IsMap()) {
            collect_includes(bundle.environment.name, conda_pip_lines(root["conda_file"]),
                             bundle.includes, 0);
        }
        if (root.IsMap() && root["build"] && root["build"].IsMap()) {
            const auto build = root["build"];
            const std::string context =
                build["path"] && build["path"].IsScalar() ? build["path"].Scalar() : ".";
            const std::string file = build["dockerfile_path"] && build["dockerfile_path"].IsScalar()
                                         ? build["dockerfile_path"].Scalar()
                                         : "Dockerfile";
            const auto path =
                (std::filesystem::path(bundle.environment.name).parent_path() / context / file)
                    .lexically_normal()
                    .generic_string();
            auto text = read_text(path);
            if (!text) return text.error();
            bundle.dockerfile = SourceText{path, std::move(*text)};
        }
    } catch (const YAML::Exception&) {
        return bundle;
    }
    if (requirements) {
        const auto path = requirements->generic_string();
        auto text = read_text(path);
        if (!text) return text.error();
        bundle.requirements = SourceText{path, std::move(*text)};
        collect_includes(path, bundle.requirements->text, bundle.includes, 0);
    }
    return bundle;
}

}  // namespace environment
