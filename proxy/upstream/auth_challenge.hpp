#pragma once
// Parsing of the WWW-Authenticate challenge a registry answers 401 with.

#include <optional>
#include <string>
#include <string_view>

namespace proxy::upstream {

struct AuthChallenge {
    enum class Scheme { basic, bearer };
    Scheme scheme = Scheme::bearer;
    std::string realm;
    std::string service;
    std::string scope;
};

// The first Basic or Bearer challenge in a WWW-Authenticate value, e.g.
// `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"`.
// Scheme and parameter names are case-insensitive; values may be quoted (with \-escapes) or bare.
// Returns nullopt when the value holds neither scheme or is malformed.
std::optional<AuthChallenge> parse_auth_challenge(std::string_view value);

}  // namespace proxy::upstream
