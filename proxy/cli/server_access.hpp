#pragma once
// The options that say how the CLI reaches a server: a CA to trust, a client certificate, and
// credentials (a user and password, or a bearer token) from a flag, an environment variable or
// a file. Shared by `envcache admin` and `envcache env`. Secrets never appear in a message.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/cli/commands.hpp"
#include "proxy/cli/http_client.hpp"

namespace proxy::cli {

class ServerAccess {
  public:
    // `default_token_env`: the variable a bearer token is read from when no token option is given
    // (unset is fine).
    explicit ServerAccess(std::string default_token_env);

    // The help lines for these options.
    static std::string_view usage();

    // Takes args[i] (and its value, advancing i) if it is one of these options. nullopt: not
    // one of them; false: one of them but wrong (`problem` says why); true: taken.
    std::optional<bool> take(Args args, std::size_t& i, std::string& problem);

    // Reads the secrets from their variables and files into `options`; false with `problem`
    // (which names the variable or file, never the secret) if one cannot be read.
    bool apply(HttpClientOptions& options, std::string& problem) const;

  private:
    std::string m_default_token_env;
    std::string m_ca_file, m_cert_file, m_key_file, m_user;
    // Each secret: at most one of inline, env and file.
    std::string m_password, m_password_env, m_password_file;
    std::string m_token, m_token_env, m_token_file;
};

}  // namespace proxy::cli
