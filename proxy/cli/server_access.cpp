#include "proxy/cli/server_access.hpp"

#include <cstdlib>
#include <utility>

#include "config/secret.hpp"

namespace proxy::cli {

namespace {

constexpr std::string_view k_usage =
    "  --ca-file FILE        trust this CA (PEM) for an https:// server ($ENVCACHE_CA_FILE)\n"
    "  --cert FILE --key FILE\n"
    "                        client certificate and key (PEM) for mutual TLS\n"
    "                        ($ENVCACHE_CERT, $ENVCACHE_KEY)\n"
    "  --user NAME           Basic authentication as NAME ($ENVCACHE_USER), with the password\n"
    "                        from --password-file FILE, --password-env VAR, --password PASS\n"
    "                        or $ENVCACHE_PASSWORD\n"
    "  --token-file FILE | --token-env VAR | --token TOKEN\n"
    "                        a bearer token\n";

std::string env_or(const char* name, std::string fallback = {}) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::move(fallback);
}

// Reads one secret from the source set (inline, env or file); nullopt with `problem` if it
// cannot be read. `what` names the secret in messages ("password", "token").
std::optional<std::string> read_secret(std::string_view what, const std::string& inline_value,
                                       const std::string& env, const std::string& file,
                                       std::string& problem) {
    if (!file.empty()) {
        auto value = config::read_secret_file(file);
        if (!value || value->empty()) {
            problem = "cannot read a " + std::string(what) + " from \"" + file + "\"";
            return std::nullopt;
        }
        return value;
    }
    if (!env.empty()) {
        auto value = config::read_secret_env(env);
        if (!value || value->empty()) {
            problem = "environment variable " + env + " is not set";
            return std::nullopt;
        }
        return value;
    }
    return inline_value;
}

}  // namespace

ServerAccess::ServerAccess(std::string default_token_env)
    : m_default_token_env(std::move(default_token_env)),
      m_ca_file(env_or("ENVCACHE_CA_FILE")),
      m_cert_file(env_or("ENVCACHE_CERT")),
      m_key_file(env_or("ENVCACHE_KEY")),
      m_user(env_or("ENVCACHE_USER")) {}

std::string_view ServerAccess::usage() {
    return k_usage;
}

std::optional<bool> ServerAccess::take(Args args, std::size_t& i, std::string& problem) {
    // Which secret an option gives, if any: the sources of one secret replace each other.
    enum Secret { no_secret, password, token };
    struct Option {
        std::string_view flag;
        std::string ServerAccess::*field;
        Secret secret;
    };
    static constexpr Option k_options[] = {
        {"--ca-file", &ServerAccess::m_ca_file, no_secret},
        {"--cert", &ServerAccess::m_cert_file, no_secret},
        {"--key", &ServerAccess::m_key_file, no_secret},
        {"--user", &ServerAccess::m_user, no_secret},
        {"--password", &ServerAccess::m_password, password},
        {"--password-env", &ServerAccess::m_password_env, password},
        {"--password-file", &ServerAccess::m_password_file, password},
        {"--token", &ServerAccess::m_token, token},
        {"--token-env", &ServerAccess::m_token_env, token},
        {"--token-file", &ServerAccess::m_token_file, token},
    };
    const std::string_view a = args[i];
    const Option* found = nullptr;
    for (const auto& option : k_options)
        if (option.flag == a) found = &option;
    if (!found) return std::nullopt;
    if (i + 1 >= args.size() || args[i + 1].empty()) {
        problem = std::string(a) + " needs a value";
        return false;
    }
    if (found->secret != no_secret)
        for (const auto& option : k_options)
            if (option.secret == found->secret) (this->*option.field).clear();
    this->*found->field = std::string(args[++i]);
    return true;
}

bool ServerAccess::apply(HttpClientOptions& options, std::string& problem) const {
    if (m_cert_file.empty() != m_key_file.empty()) {
        problem = "--cert and --key go together";
        return false;
    }
    options.ca_file = m_ca_file;
    options.cert_file = m_cert_file;
    options.key_file = m_key_file;
    const bool token_given = !m_token.empty() || !m_token_env.empty() || !m_token_file.empty();
    if (!m_user.empty()) {
        if (token_given) {
            problem = "give either --user (Basic) or a token (Bearer), not both";
            return false;
        }
        const std::string password_env =
            m_password.empty() && m_password_file.empty() && m_password_env.empty()
                ? "ENVCACHE_PASSWORD"
                : m_password_env;
        auto password = read_secret("password", m_password, password_env, m_password_file, problem);
        if (!password) {
            if (m_password.empty() && m_password_file.empty() && m_password_env.empty())
                problem =
                    "--user needs a password (--password-file, --password-env, --password "
                    "or $ENVCACHE_PASSWORD)";
            return false;
        }
        options.username = m_user;
        options.password = std::move(*password);
        return true;
    }
    if (token_given) {
        auto token = read_secret("token", m_token, m_token_env, m_token_file, problem);
        if (!token) return false;
        options.bearer_token = std::move(*token);
    } else if (!m_default_token_env.empty()) {
        options.bearer_token = env_or(m_default_token_env.c_str());
    }
    return true;
}

}  // namespace proxy::cli
