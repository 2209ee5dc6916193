#include "environment/dockerfile.hpp"

#include <algorithm>
#include <array>

#include "environment/text.hpp"

namespace environment {

namespace {

constexpr std::array<std::string_view, 18> k_instructions = {
    "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
    "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
    "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};

bool is_comment(std::string_view l) {
    l = text::trim(l);
    return !l.empty() && l.front() == '#';
}

}  // namespace

boost::system::result<std::vector<DockerInstruction>, Error> parse_dockerfile(
    std::string_view file, std::string_view content) {
    const auto physical = text::lines(content);
    char escape = '\\';
    // Parser directives: `# escape=`` ` before anything else.
    for (const auto& l : physical) {
        if (!is_comment(l)) break;
        const auto body = text::remove_spaces(text::trim(l).substr(1));
        if (text::lower(body).starts_with("escape=") && body.size() == 8) escape = body[7];
    }

    std::vector<DockerInstruction> out;
    std::string current;
    int start = 0;
    auto flush = [&]() -> boost::system::result<void, Error> {
        const auto logical = text::collapse_spaces_outside_quotes(current);
        current.clear();
        if (logical.empty()) return {};
        const auto space = logical.find(' ');
        DockerInstruction ins;
        ins.keyword = text::upper(logical.substr(0, space));
        if (space != std::string::npos) ins.arguments = logical.substr(space + 1);
        ins.line = start;
        if (std::find(k_instructions.begin(), k_instructions.end(), ins.keyword) ==
            k_instructions.end())
            return Error{std::string(file), start, 1,
                         "unknown Dockerfile instruction '" + logical.substr(0, space) + "'"};
        out.push_back(std::move(ins));
        return {};
    };
    for (std::size_t i = 0; i < physical.size(); ++i) {
        const std::string_view l = physical[i];
        // Comment and blank lines vanish, also in the middle of a continued instruction.
        if (is_comment(l) || text::trim(l).empty()) continue;
        if (current.empty()) start = static_cast<int>(i) + 1;
        auto t = l;
        while (!t.empty() && text::is_space(t.back()))
            t.remove_suffix(1);
        if (!t.empty() && t.back() == escape) {
            current += t.substr(0, t.size() - 1);
            continue;
        }
        current += l;
        if (auto r = flush(); !r) return r.error();
    }
    if (auto r = flush(); !r) return r.error();
    return out;
}

}  // namespace environment
