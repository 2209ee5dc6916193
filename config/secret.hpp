#pragma once

#include <filesystem>
#include <optional>
#include <string>

// Reading secrets (passwords, tokens) kept out of the config file itself. Callers never log or
// echo what these return.
namespace config {

// The file's contents without trailing newlines; nullopt if it cannot be read or is larger than
// 64 KiB (no secret is that long; a wrong path to a big file should not be read into memory).
std::optional<std::string> read_secret_file(const std::filesystem::path& file);

// The environment variable's value without trailing newlines; nullopt if it is not set.
std::optional<std::string> read_secret_env(const std::string& name);

}  // namespace config
