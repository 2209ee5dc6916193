#include "environment/spec.hpp"

#include <algorithm>
#include <array>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "environment/text.hpp"

namespace environment {

namespace {

using boost::system::result;

Error at(const std::string& file, const YAML::Mark& mark, std::string message) {
    const int line = mark.line >= 0 ? mark.line + 1 : 0;
    const int column = mark.column >= 0 ? mark.column + 1 : 0;
    return Error{file, line, column, std::move(message)};
}

int line_of(const YAML::Node& node) {
    return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

result<YAML::Node, Error> load_yaml(const SourceText& src) {
    try {
        return YAML::Load(src.text);
    } catch (const YAML::Exception& e) {
        return result<YAML::Node, Error>(boost::system::in_place_error,
                                         at(src.name, e.mark, e.msg));
    }
}

result<std::string, Error> scalar(const std::string& file, const YAML::Node& node,
                                  std::string_view what) {
    if (!node.IsScalar()) return at(file, node.Mark(), std::string(what) + " must be a string");
    return node.Scalar();
}

constexpr std::array<std::string_view, 12> k_ignored_environment_keys = {
    "$schema", "name",       "version", "description",           "tags", "inference_config",
    "os_type", "properties", "stage",   "intellectual_property", "id",   "creation_context"};

result<void, Error> parse_conda(const std::string& file, const YAML::Node& root,
                                const Includes& includes, Spec& spec) {
    if (!root.IsMap()) return at(file, root.Mark(), "a conda file must be a mapping");
    for (const auto& kv : root) {
        const auto key = kv.first.as<std::string>();
        const YAML::Node& value = kv.second;
        if (key == "name" || key == "prefix" || key == "variables") continue;
        if (key == "channels") {
            if (!value.IsSequence()) return at(file, value.Mark(), "channels must be a list");
            for (const auto& c : value) {
                auto name = scalar(file, c, "a channel");
                if (!name) return name.error();
                spec.channels.emplace_back(text::trim(*name));
            }
        } else if (key == "dependencies") {
            if (!value.IsSequence()) return at(file, value.Mark(), "dependencies must be a list");
            spec.conda_dependencies_line = line_of(kv.first);
            for (const auto& d : value) {
                if (d.IsScalar()) {
                    auto dep = parse_conda_dependency(d.Scalar());
                    if (!dep) return at(file, d.Mark(), dep.error());
                    spec.conda.push_back({std::move(*dep), {file, line_of(d)}});
                    continue;
                }
                if (!d.IsMap() || d.size() != 1 || !d["pip"])
                    return at(file, d.Mark(), "a dependency must be a match spec or a pip: list");
                const YAML::Node pip = d["pip"];
                if (!pip.IsSequence()) return at(file, pip.Mark(), "pip: must be a list");
                RequirementsReader reader(includes, spec.pip);
                for (const auto& p : pip) {
                    auto line = scalar(file, p, "a pip requirement");
                    if (!line) return line.error();
                    if (auto r = reader.read_line(file, line_of(p), *line); !r) {
                        auto e = r.error();
                        if (e.file == file) e.column = p.Mark().column + 1;
                        return e;
                    }
                }
            }
        } else {
            return at(file, kv.first.Mark(), "unknown conda file key '" + key + "'");
        }
    }
    spec.has_conda_file = true;
    spec.conda_file_name = file;
    return {};
}

result<void, Error> parse_environment(const Bundle& bundle, Spec& spec,
                                      std::optional<ImageReference>& image) {
    const std::string& file = bundle.environment.name;
    auto root = load_yaml(bundle.environment);
    if (!root) return root.error();
    if (!root->IsMap())
        return at(file, root->Mark(), "an environment file must be a mapping of keys");

    bool conda_inline = false;
    bool wants_conda_file = false;
    std::string conda_ref;
    bool wants_build = false;
    for (const auto& kv : *root) {
        const auto key = kv.first.as<std::string>();
        const YAML::Node& value = kv.second;
        if (key == "image") {
            auto s = scalar(file, value, "image");
            if (!s) return s.error();
            auto ref = parse_image_reference(*s);
            if (!ref) return at(file, value.Mark(), ref.error());
            image = std::move(*ref);
            spec.base_where = {file, line_of(value)};
        } else if (key == "conda_file") {
            if (value.IsMap()) {
                conda_inline = true;
                if (auto r = parse_conda(file, value, bundle.includes, spec); !r) return r;
            } else {
                auto s = scalar(file, value, "conda_file");
                if (!s) return s.error();
                wants_conda_file = true;
                conda_ref = *s;
            }
        } else if (key == "build") {
            if (!value.IsMap()) return at(file, value.Mark(), "build must be a mapping");
            for (const auto& b : value) {
                const auto bkey = b.first.as<std::string>();
                if (bkey != "path" && bkey != "dockerfile_path")
                    return at(file, b.first.Mark(), "unknown build key '" + bkey + "'");
                if (auto s = scalar(file, b.second, bkey); !s) return s.error();
            }
            wants_build = true;
        } else if (key == "name" || key == "version" || key == "description") {
            auto s = scalar(file, value, key);
            if (!s) return s.error();
            (key == "name" ? spec.name : key == "version" ? spec.version : spec.description) = *s;
        } else if (std::find(k_ignored_environment_keys.begin(), k_ignored_environment_keys.end(),
                             key) == k_ignored_environment_keys.end()) {
            return at(file, kv.first.Mark(), "unknown environment key '" + key + "'");
        }
    }
    if (!conda_inline && bundle.conda_file) {
        auto conda = load_yaml(*bundle.conda_file);
        if (!conda) return conda.error();
        try {
            if (auto r = parse_conda(bundle.conda_file->name, *conda, bundle.includes, spec); !r)
                return r;
        } catch (const YAML::Exception& e) {
            return at(bundle.conda_file->name, e.mark, e.msg);
        }
    } else if (wants_conda_file && !conda_inline) {
        return Error{file, 0, 0, "conda_file '" + conda_ref + "' is not in the bundle"};
    }
    if (conda_inline && bundle.conda_file)
        return Error{file, 0, 0, "conda_file is given inline and as a separate file"};
    if (wants_build && !bundle.dockerfile)
        return Error{file, 0, 0, "build is given but its Dockerfile is not in the bundle"};
    return {};
}

result<void, Error> parse_steps(const SourceText& dockerfile, Spec& spec,
                                std::optional<ImageReference>& image) {
    auto steps = parse_dockerfile(dockerfile.name, dockerfile.text);
    if (!steps) return steps.error();
    spec.dockerfile_name = dockerfile.name;
    bool seen_from = false;
    for (auto& ins : *steps) {
        if (ins.keyword != "FROM" || seen_from) {
            spec.steps.push_back(std::move(ins));
            continue;
        }
        seen_from = true;
        if (image)
            return Error{dockerfile.name, ins.line, 1,
                         "the environment sets image: and the Dockerfile has FROM; use one"};
        std::vector<std::string> words;
        for (auto& w : text::split(ins.arguments, ' '))
            if (!w.empty()) words.push_back(std::move(w));
        std::size_t i = 0;
        for (; i < words.size() && words[i].starts_with("--"); ++i) {
            if (text::lower(words[i]).starts_with("--platform="))
                spec.platform = words[i].substr(11);
            else
                return Error{dockerfile.name, ins.line, 1, "unsupported FROM flag " + words[i]};
        }
        if (i >= words.size()) return Error{dockerfile.name, ins.line, 1, "FROM without image"};
        auto ref = parse_image_reference(words[i]);
        if (!ref) return Error{dockerfile.name, ins.line, 1, ref.error()};
        image = std::move(*ref);
        spec.base_where = {dockerfile.name, ins.line};
        if (i + 3 == words.size() && text::upper(words[i + 1]) == "AS")
            spec.stage = words[i + 2];
        else if (i + 1 != words.size())
            return Error{dockerfile.name, ins.line, 1, "unexpected text after FROM image"};
    }
    return {};
}

}  // namespace

const CondaEntry* Spec::python() const {
    for (const auto& c : conda)
        if (c.dependency.name == "python") return &c;
    return nullptr;
}

result<Spec, Error> parse_spec(const Bundle& bundle) {
    Spec spec;
    std::optional<ImageReference> image;
    try {
        if (auto r = parse_environment(bundle, spec, image); !r) return r.error();
        if (bundle.dockerfile) {
            if (auto r = parse_steps(*bundle.dockerfile, spec, image); !r) return r.error();
        }
    } catch (const YAML::Exception& e) {
        // yaml-cpp throws on a type mismatch we did not check; it is still the input's fault.
        return at(bundle.environment.name, e.mark, e.msg);
    }
    if (bundle.requirements) {
        RequirementsReader reader(bundle.includes, spec.pip);
        if (auto r = reader.read_file(bundle.requirements->name, bundle.requirements->text); !r)
            return r.error();
    }
    if (!image)
        return Error{bundle.environment.name, 0, 0,
                     "no base image: set image: or give a Dockerfile with FROM"};
    spec.base = std::move(*image);
    return spec;
}

}  // namespace environment
