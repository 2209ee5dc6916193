#include "environment/conda_dependency.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "environment/text.hpp"

namespace environment {

namespace {

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '+';
}

bool is_operator_char(char c) {
    return c == '=' || c == '<' || c == '>' || c == '!' || c == '~';
}

std::string strip_wildcard(std::string v) {
    if (v.size() >= 2 && v.ends_with(".*"))
        v.resize(v.size() - 2);
    else if (!v.empty() && v.back() == '*')
        v.pop_back();
    return v;
}

// A bare version (no operator): exact unless it ends in a wildcard, then fuzzy.
std::string bare_version(const std::string& v) {
    if (v.find_first_of(",|<>!~") != std::string::npos) return v;
    if (v.ends_with("*")) return "=" + strip_wildcard(v);
    return "==" + v;
}

std::string sorted_constraint(const std::string& v) {
    if (v.find('|') != std::string::npos) return v;  // alternatives keep their order
    auto parts = text::split(v, ',');
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += ',';
        out += p;
    }
    return out;
}

std::string unquote(std::string_view v) {
    v = text::trim(v);
    if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
    return std::string(v);
}

}  // namespace

std::string CondaDependency::canonical() const {
    std::string out;
    if (!channel.empty()) out += channel + "::";
    out += name + version;
    if (!build.empty()) out += "=" + build;
    return out;
}

PinKind CondaDependency::pin() const {
    if (!build.empty()) return PinKind::exact;
    if (version.empty()) return PinKind::unpinned;
    if (version.starts_with("==") && version.find_first_of("*,|", 2) == std::string::npos)
        return PinKind::exact;
    if (version.starts_with("=") && version[1] != '=' &&
        version.find_first_of("*,|<>!~", 1) == std::string::npos) {
        // Conda's `=1.26` matches 1.26.x: fewer than three components floats over releases.
        const auto dots = std::count(version.begin(), version.end(), '.');
        return dots >= 2 ? PinKind::exact : PinKind::partial;
    }
    return PinKind::range;
}

boost::system::result<CondaDependency, std::string> parse_conda_dependency(std::string_view spec) {
    std::string_view s = text::trim(spec);
    if (s.empty()) return std::string("empty dependency");
    CondaDependency dep;

    // Trailing bracket options: name[version='>=1.2', build=py_0].
    std::string bracket_version;
    if (const auto open = s.find('['); open != std::string_view::npos) {
        if (s.back() != ']') return "unterminated '[' in '" + std::string(s) + "'";
        const auto inner = s.substr(open + 1, s.size() - open - 2);
        for (const auto& item : text::split(inner, ',')) {
            const auto eq = item.find('=');
            if (eq == std::string::npos) return "bad bracket option '" + item + "'";
            const auto key = text::lower(text::trim(std::string_view(item).substr(0, eq)));
            const auto value = unquote(std::string_view(item).substr(eq + 1));
            if (key == "version")
                bracket_version = text::remove_spaces(value);
            else if (key == "build")
                dep.build = value;
            else if (key == "channel")
                dep.channel = value;
            else
                return "unsupported bracket option '" + key + "'";
        }
        s = text::trim(s.substr(0, open));
    }

    if (const auto colons = s.find("::"); colons != std::string_view::npos) {
        dep.channel = std::string(text::trim(s.substr(0, colons)));
        s = text::trim(s.substr(colons + 2));
        if (dep.channel.empty()) return std::string("empty channel before '::'");
    }
    std::size_t n = 0;
    while (n < s.size() && is_name_char(s[n]))
        ++n;
    if (n == 0) return "expected a package name in '" + std::string(spec) + "'";
    dep.name = text::lower(s.substr(0, n));
    const auto rest = text::trim(s.substr(n));

    std::string version;
    if (rest.empty()) {
        version = bracket_version.empty() ? "" : bare_version(bracket_version);
    } else if (!bracket_version.empty()) {
        return "version given twice in '" + std::string(spec) + "'";
    } else if (is_operator_char(rest.front())) {
        const std::string r = text::remove_spaces(rest);
        const bool exact = r.starts_with("==") && !r.starts_with("===");
        const bool fuzzy = r.starts_with("=") && !r.starts_with("==");
        if (exact || fuzzy) {
            const std::size_t from = exact ? 2 : 1;
            const auto eq = r.find('=', from);
            std::string v = r.substr(from, eq == std::string::npos ? eq : eq - from);
            if (eq != std::string::npos) dep.build = r.substr(eq + 1);
            if (v.empty()) return "missing version in '" + std::string(spec) + "'";
            if (v.find_first_of(",|") != std::string::npos) {
                version = sorted_constraint(r);
                dep.build.clear();
            } else if (!dep.build.empty()) {
                version = "==" + v;  // a build string makes the version exact
            } else if (fuzzy || v.ends_with("*")) {
                version = "=" + strip_wildcard(v);
            } else {
                version = "==" + v;
            }
        } else {
            version = sorted_constraint(r);
        }
    } else {
        // Space-separated form: "numpy 1.26.4 [build]".
        std::vector<std::string> words;
        for (const auto& w : text::split(text::collapse_spaces_outside_quotes(rest), ' '))
            if (!w.empty()) words.push_back(w);
        if (words.size() > 2) return "too many fields in '" + std::string(spec) + "'";
        if (words.size() == 2) {
            dep.build = words[1];
            version = "==" + strip_wildcard(words[0]);
        } else {
            version = bare_version(words[0]);
        }
    }
    if (version == "=" || version == "==") version.clear();  // "numpy=*"
    dep.version = text::lower(version);
    return dep;
}

}  // namespace environment
