#include "environment/pip_dependencies.hpp"

#include <algorithm>
#include <filesystem>

#include "environment/text.hpp"

namespace environment {

namespace {

constexpr std::size_t k_max_include_depth = 16;

struct LogicalLine {
    int line;  // first physical line, 1-based
    std::string text;
};

// Joins backslash continuations and strips comments (`#` at the start or after whitespace).
std::vector<LogicalLine> logical_lines(std::string_view content) {
    std::vector<LogicalLine> out;
    const auto physical = text::lines(content);
    std::string current;
    int start = 0;
    for (std::size_t i = 0; i < physical.size(); ++i) {
        std::string_view l = physical[i];
        if (current.empty()) start = static_cast<int>(i) + 1;
        if (!l.empty() && l.back() == '\\') {
            current += l.substr(0, l.size() - 1);
            continue;
        }
        current += l;
        out.push_back({start, std::move(current)});
        current.clear();
    }
    if (!current.empty()) out.push_back({start, std::move(current)});
    for (auto& ll : out) {
        for (std::size_t i = 0; i < ll.text.size(); ++i) {
            if (ll.text[i] == '#' && (i == 0 || text::is_space(ll.text[i - 1]))) {
                ll.text.resize(i);
                break;
            }
        }
        ll.text = std::string(text::trim(ll.text));
    }
    return out;
}

struct Option {
    Option() = default;  // not an aggregate, so result<Option, string> works

    std::string name;  // long form: "--requirement"
    std::string value;
};

const std::map<std::string, std::string, std::less<>> k_short_options = {
    {"-r", "--requirement"}, {"-c", "--constraint"}, {"-e", "--editable"},
    {"-i", "--index-url"},   {"-f", "--find-links"},
};
const std::vector<std::string_view> k_value_options = {
    "--requirement", "--constraint",   "--editable",    "--index-url", "--extra-index-url",
    "--find-links",  "--trusted-host", "--only-binary", "--no-binary", "--use-feature"};
const std::vector<std::string_view> k_flag_options = {"--no-index", "--pre", "--prefer-binary",
                                                      "--require-hashes"};

boost::system::result<Option, std::string> parse_option(std::string_view l) {
    Option opt;
    std::string_view rest;
    if (l.starts_with("--")) {
        const auto end = l.find_first_of(" \t=");
        opt.name = std::string(l.substr(0, end));
        if (end != std::string_view::npos) rest = l.substr(end + 1);
    } else {
        opt.name = std::string(l.substr(0, 2));
        rest = l.size() > 2 ? l.substr(2) : std::string_view();
        const auto it = k_short_options.find(opt.name);
        if (it == k_short_options.end()) return "unsupported option '" + opt.name + "'";
        opt.name = it->second;
    }
    opt.value = std::string(text::trim(rest));
    const bool takes_value = std::find(k_value_options.begin(), k_value_options.end(), opt.name) !=
                             k_value_options.end();
    const bool flag =
        std::find(k_flag_options.begin(), k_flag_options.end(), opt.name) != k_flag_options.end();
    if (!takes_value && !flag) return "unsupported option '" + opt.name + "'";
    if (takes_value && opt.value.empty()) return "option '" + opt.name + "' needs a value";
    if (flag && !opt.value.empty()) return "option '" + opt.name + "' takes no value";
    return opt;
}

}  // namespace

std::string include_key(std::string_view from_file, std::string_view ref) {
    const std::filesystem::path base = std::filesystem::path(from_file).parent_path();
    std::filesystem::path p(ref);
    if (!p.is_absolute()) p = base / p;
    auto key = p.lexically_normal().generic_string();
    return key.empty() ? std::string(ref) : key;
}

std::vector<std::string> include_references(std::string_view requirements_text) {
    std::vector<std::string> out;
    for (const auto& ll : logical_lines(requirements_text)) {
        if (!ll.text.starts_with("-")) continue;
        auto opt = parse_option(ll.text);
        if (opt && (opt->name == "--requirement" || opt->name == "--constraint"))
            out.push_back(opt->value);
    }
    return out;
}

boost::system::result<void, Error> RequirementsReader::read_file(std::string_view name,
                                                                 std::string_view text) {
    m_open.assign(1, include_key("", name));
    return read(name, text, false);
}

boost::system::result<void, Error> RequirementsReader::read_line(std::string_view file, int line_no,
                                                                 std::string_view text) {
    m_open.clear();
    return line(file, line_no, text::trim(text), false);
}

boost::system::result<void, Error> RequirementsReader::read(std::string_view name,
                                                            std::string_view content,
                                                            bool constraints) {
    for (const auto& ll : logical_lines(content)) {
        if (ll.text.empty()) continue;
        auto r = line(name, ll.line, ll.text, constraints);
        if (!r) return r;
    }
    return {};
}

boost::system::result<void, Error> RequirementsReader::line(std::string_view file, int line_no,
                                                            std::string_view l, bool constraints) {
    auto fail = [&](std::string message) {
        return Error{std::string(file), line_no, 1, std::move(message)};
    };
    if (!l.starts_with("-")) {
        auto req = parse_requirement(l);
        if (!req) return fail(req.error());
        auto& list = constraints ? m_out.constraints : m_out.requirements;
        list.push_back({std::move(*req), std::string(file), line_no});
        return {};
    }
    auto opt = parse_option(l);
    if (!opt) return fail(opt.error());
    if (opt->name == "--requirement") return include(file, line_no, opt->value, constraints);
    if (opt->name == "--constraint") return include(file, line_no, opt->value, true);
    if (opt->name == "--editable") {
        m_out.editables.push_back({opt->value, std::string(file), line_no});
        return {};
    }
    std::string canonical = opt->name;
    if (!opt->value.empty()) canonical += " " + text::collapse_spaces_outside_quotes(opt->value);
    auto& list = (opt->name == "--index-url" || opt->name == "--extra-index-url")
                     ? m_out.index_options
                     : m_out.other_options;
    if (std::find(list.begin(), list.end(), canonical) == list.end()) list.push_back(canonical);
    return {};
}

boost::system::result<void, Error> RequirementsReader::include(std::string_view file, int line_no,
                                                               std::string_view ref,
                                                               bool constraints) {
    const auto key = include_key(file, ref);
    if (std::find(m_open.begin(), m_open.end(), key) != m_open.end())
        return Error{std::string(file), line_no, 1, "include cycle through '" + key + "'"};
    if (m_open.size() >= k_max_include_depth)
        return Error{std::string(file), line_no, 1, "includes nested too deeply"};
    const auto it = m_includes.find(key);
    if (it == m_includes.end())
        return Error{
            std::string(file), line_no, 1,
            "included file '" + std::string(ref) + "' is not available (as '" + key + "')"};
    m_open.push_back(key);
    auto r = read(key, it->second, constraints);
    m_open.pop_back();
    return r;
}

}  // namespace environment
