#include "proxy/upstream/auth_challenge.hpp"

#include <cctype>
#include <vector>

namespace proxy::upstream {

namespace {

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// A cursor over the header value; every function advances it past what it read.
class Scanner {
  public:
    explicit Scanner(std::string_view text) : m_text(text) {}

    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return at_end() ? '\0' : m_text[m_pos]; }
    void skip_space() {
        while (!at_end() && (peek() == ' ' || peek() == '\t')) {
            ++m_pos;
        }
    }
    bool consume(char c) {
        skip_space();
        if (peek() != c) {
            return false;
        }
        ++m_pos;
        return true;
    }
    std::string_view token() {
        skip_space();
        const auto start = m_pos;
        while (!at_end() && is_token_char(peek())) {
            ++m_pos;
        }
        return m_text.substr(start, m_pos - start);
    }
    // An unquoted parameter value: everything up to the next comma or white space.
    std::string_view bare() {
        const auto start = m_pos;
        while (!at_end() && peek() != ',' && peek() != ' ' && peek() != '\t') {
            ++m_pos;
        }
        return m_text.substr(start, m_pos - start);
    }
    // A quoted string without its quotes and escapes, or nullopt if unterminated.
    std::optional<std::string> quoted() {
        std::string out;
        ++m_pos;  // opening quote
        while (!at_end()) {
            const char c = m_text[m_pos++];
            if (c == '"') {
                return out;
            }
            if (c == '\\' && !at_end()) {
                out += m_text[m_pos++];
            } else {
                out += c;
            }
        }
        return std::nullopt;
    }
    std::size_t position() const { return m_pos; }
    void rewind(std::size_t pos) { m_pos = pos; }

  private:
    std::string_view m_text;
    std::size_t m_pos = 0;
};

}  // namespace

std::optional<AuthChallenge> parse_auth_challenge(std::string_view value) {
    Scanner scanner(value);
    while (!scanner.at_end()) {
        const auto scheme = scanner.token();
        if (scheme.empty()) {
            if (!scanner.consume(',')) {
                return std::nullopt;
            }
            continue;
        }
        AuthChallenge challenge;
        const bool wanted = iequals(scheme, "bearer") || iequals(scheme, "basic");
        challenge.scheme =
            iequals(scheme, "basic") ? AuthChallenge::Scheme::basic : AuthChallenge::Scheme::bearer;
        // Parameters: name=value pairs separated by commas, until the next scheme (a token
        // that is not followed by '=').
        while (true) {
            const auto before = scanner.position();
            const auto name = scanner.token();
            if (name.empty() || !scanner.consume('=')) {
                scanner.rewind(before);
                break;
            }
            scanner.skip_space();
            std::string parameter;
            if (scanner.peek() == '"') {
                auto text = scanner.quoted();
                if (!text) {
                    return std::nullopt;
                }
                parameter = std::move(*text);
            } else {
                parameter = std::string(scanner.bare());
            }
            if (iequals(name, "realm")) {
                challenge.realm = std::move(parameter);
            } else if (iequals(name, "service")) {
                challenge.service = std::move(parameter);
            } else if (iequals(name, "scope")) {
                challenge.scope = std::move(parameter);
            }
            if (!scanner.consume(',')) {
                break;
            }
        }
        if (wanted) {
            return challenge;
        }
        scanner.skip_space();
        if (!scanner.at_end() && !is_token_char(scanner.peek()) && !scanner.consume(',')) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace proxy::upstream
