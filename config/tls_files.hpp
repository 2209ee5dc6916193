#pragma once
// Checks of the PEM files `server.tls` names, so that a wrong file stops start-up with the
// key that names it rather than failing the first handshake.

#include <filesystem>
#include <optional>
#include <string>

namespace config {

// Why `file` holds no certificate (unreadable, or no PEM certificate first); nullopt if it does.
std::optional<std::string> certificate_file_problem(const std::filesystem::path& file);

// Why `key` is no usable private key for the first certificate in `cert`: unreadable, not an
// unencrypted PEM private key, or the key of another certificate. nullopt if it is.
std::optional<std::string> key_file_problem(const std::filesystem::path& key,
                                            const std::filesystem::path& cert);

}  // namespace config
