#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "config/config.hpp"

namespace config {

// Why a config was rejected: one problem, located so the admin can go straight to it.
// Never holds a secret's value (tokens, passwords, secret file contents).
struct ConfigError {
    std::string file;    // as given to load(), or the name given to load_from_string()
    int line = 0;        // 1-based; 0 when the problem is not on a line (file unreadable)
    std::string key;     // dotted path such as "storage.max_size" or "upstreams[1].url"; may be
                         // empty for problems with the file as a whole
    std::string reason;  // e.g. "\"20Gib\" is not a size (use B, KiB, ...)"

    // "envcache.yml:7: storage.max_size: \"20Gib\" is not a size (use B, KiB, ...)"
    std::string message() const;
};

// Lets `LoadResult::value()` throw std::runtime_error(message()), for start-up code that
// prefers an exception.
[[noreturn]] void throw_exception_from_error(const ConfigError& e, const boost::source_location&);

using LoadResult = boost::system::result<Config, ConfigError>;

// Reads, parses and validates a YAML config file. Unknown keys, wrong types, bad units and
// inconsistent values are errors, never ignored. Secrets named by *_env / *_file keys are
// checked here (admin_token is read into Config::admin_token; upstream passwords are read
// on use by UpstreamConfig::password()). Relative paths in the file are relative to the
// working directory, not to the file.
LoadResult load(const std::filesystem::path& file);

// As load(), from text; `name` stands for the file name in messages.
LoadResult load_from_string(std::string_view text, std::string_view name);

}  // namespace config
