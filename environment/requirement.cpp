#include "environment/requirement.hpp"

#include <algorithm>
#include <cctype>

#include "environment/text.hpp"

namespace environment {

namespace {

bool is_alnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_name_char(char c) {
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

void sort_unique(std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Marker tokens joined so that only words and strings next to each other keep one space:
// `python_version < "3.8"  and os_name=="nt"` -> `python_version<"3.8" and os_name=="nt"`.
using MarkerResult = boost::system::result<std::string, std::string>;

MarkerResult marker_error(std::string message) {
    return MarkerResult(boost::system::in_place_error, std::move(message));
}

MarkerResult normalize_marker(std::string_view m) {
    std::string out;
    bool last_was_word = false;
    std::size_t i = 0;
    while (i < m.size()) {
        const char c = m[i];
        if (text::is_space(c)) {
            ++i;
            continue;
        }
        std::string token;
        bool word = false;
        if (c == '"' || c == '\'') {
            const auto end = m.find(c, i + 1);
            if (end == std::string_view::npos) return marker_error("unterminated string in marker");
            token = std::string(m.substr(i, end - i + 1));
            i = end + 1;
            word = true;
        } else if (is_alnum(c) || c == '_' || c == '.') {
            while (i < m.size() && (is_alnum(m[i]) || m[i] == '_' || m[i] == '.'))
                token += m[i++];
            word = true;
        } else if (c == '(' || c == ')') {
            token = c;
            ++i;
        } else {
            while (i < m.size() && std::string_view("<>=!~").find(m[i]) != std::string_view::npos)
                token += m[i++];
            if (token.empty())
                return marker_error("unexpected '" + std::string(1, c) + "' in marker");
        }
        if (word && last_was_word) out += ' ';
        out += token;
        last_was_word = word;
    }
    return MarkerResult(boost::system::in_place_value, std::move(out));
}

}  // namespace

std::string normalize_pip_name(std::string_view name) {
    std::string out;
    bool in_run = false;
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            if (!in_run) out += '-';
            in_run = true;
        } else {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            in_run = false;
        }
    }
    return out;
}

std::string Requirement::canonical() const {
    std::string out = name;
    if (!extras.empty()) {
        out += '[';
        for (std::size_t i = 0; i < extras.size(); ++i)
            out += (i ? "," : "") + extras[i];
        out += ']';
    }
    for (std::size_t i = 0; i < specifiers.size(); ++i)
        out += (i ? "," : "") + specifiers[i];
    if (!url.empty()) out += "@" + url;
    if (!marker.empty()) out += ";" + marker;
    for (const auto& h : hashes)
        out += " --hash=" + h;
    return out;
}

PinKind Requirement::pin() const {
    if (!url.empty()) return PinKind::direct;
    if (specifiers.empty()) return PinKind::unpinned;
    bool wildcard = false;
    for (const auto& s : specifiers) {
        if (s.starts_with("===")) return PinKind::exact;
        if (s.starts_with("==")) {
            if (s.ends_with("*"))
                wildcard = true;
            else
                return PinKind::exact;
        }
    }
    return wildcard ? PinKind::partial : PinKind::range;
}

boost::system::result<Requirement, std::string> parse_requirement(std::string_view line) {
    std::string_view s = text::trim(line);
    Requirement req;

    // Per-requirement options (" --hash=sha256:..."), outside any quoted marker string.
    {
        char quote = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            if (quote) {
                if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (text::is_space(c) && s.substr(i + 1).starts_with("--")) {
                std::vector<std::string> words;
                for (auto& w : text::split(text::collapse_spaces_outside_quotes(s.substr(i)), ' '))
                    if (!w.empty()) words.push_back(w);
                for (std::size_t k = 0; k < words.size(); ++k) {
                    if (words[k].starts_with("--hash=")) {
                        req.hashes.push_back(words[k].substr(7));
                    } else if (words[k] == "--hash" && k + 1 < words.size()) {
                        req.hashes.push_back(words[++k]);
                    } else {
                        return "unsupported requirement option '" + words[k] + "'";
                    }
                }
                s = text::trim(s.substr(0, i));
                break;
            }
        }
    }

    std::size_t i = 0;
    while (i < s.size() && is_name_char(s[i]))
        ++i;
    if (i == 0 || !is_alnum(s[0]) || !is_alnum(s[i - 1]))
        return "expected a package name in '" + std::string(s) + "'";
    req.name = normalize_pip_name(s.substr(0, i));
    auto rest = text::trim(s.substr(i));

    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return std::string("unterminated '[' in extras");
        for (const auto& e : text::split(rest.substr(1, close - 1), ',')) {
            const auto name = text::trim(e);
            if (name.empty()) continue;
            req.extras.push_back(normalize_pip_name(name));
        }
        sort_unique(req.extras);
        rest = text::trim(rest.substr(close + 1));
    }

    std::string_view marker;
    if (!rest.empty() && rest.front() == '@') {
        rest = text::trim(rest.substr(1));
        // A marker after a URL must be preceded by whitespace (PEP 508).
        std::size_t end = 0;
        while (end < rest.size() && !text::is_space(rest[end]))
            ++end;
        req.url = std::string(rest.substr(0, end));
        if (req.url.empty()) return std::string("missing URL after '@'");
        rest = text::trim(rest.substr(end));
        if (!rest.empty()) {
            if (rest.front() != ';')
                return "unexpected text after URL: '" + std::string(rest) + "'";
            marker = rest.substr(1);
        }
    } else {
        const auto semi = rest.find(';');
        auto specs = text::trim(rest.substr(0, semi));
        if (semi != std::string_view::npos) marker = rest.substr(semi + 1);
        if (!specs.empty() && specs.front() == '(') {
            if (specs.back() != ')') return std::string("unterminated '(' in version specifier");
            specs = specs.substr(1, specs.size() - 2);
        }
        if (!text::trim(specs).empty()) {
            for (const auto& part : text::split(specs, ',')) {
                auto spec = text::lower(text::remove_spaces(part));
                const auto op_end = spec.find_first_not_of("<>=!~");
                if (spec.empty() || op_end == 0 || op_end == std::string::npos)
                    return "bad version specifier '" + std::string(text::trim(part)) + "'";
                const auto op = spec.substr(0, op_end);
                if (op != "==" && op != "!=" && op != "<=" && op != ">=" && op != "<" &&
                    op != ">" && op != "~=" && op != "===")
                    return "bad version operator '" + op + "'";
                req.specifiers.push_back(std::move(spec));
            }
            sort_unique(req.specifiers);
        }
    }
    if (!text::trim(marker).empty()) {
        auto m = normalize_marker(marker);
        if (!m) return m.error();
        req.marker = std::move(*m);
    }
    sort_unique(req.hashes);
    return req;
}

}  // namespace environment
