#include "environment/text.hpp"

#include <cctype>

namespace environment::text {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == lower(prefix);
}

std::string remove_spaces(std::string_view s) {
    std::string out;
    for (char c : s)
        if (!is_space(c)) out += c;
    return out;
}

std::string collapse_spaces_outside_quotes(std::string_view s) {
    std::string out;
    char quote = 0;
    bool pending_space = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote == 0 && is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        out += c;
        if (quote == 0 && (c == '"' || c == '\'')) {
            quote = c;
        } else if (quote == '"' && c == '\\' && i + 1 < s.size()) {
            out += s[++i];  // an escaped character never closes the quote
        } else if (c == quote) {
            quote = 0;
        }
    }
    return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto pos = s.find('\n', start);
        if (pos == std::string_view::npos) {
            if (start < s.size()) {
                auto line = s.substr(start);
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                out.push_back(line);
            }
            break;
        }
        auto line = s.substr(start, pos - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(line);
        start = pos + 1;
    }
    return out;
}

}  // namespace environment::text
