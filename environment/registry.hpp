#pragma once
// Rules for named environment versions, independent of where records are stored.

#include <optional>
#include <string>
#include <string_view>

namespace environment {

// Names beginning with "AzureML-" or "Microsoft" (any case) belong to curated environments,
// which only an admin registers.
bool is_reserved_name(std::string_view name);

// Why `name` is not a valid environment name, or empty if it is: 1 to 255 characters of
// letters, digits, '-', '_', '.', starting with a letter or digit.
std::string name_problem(std::string_view name);

// Why `version` is not a valid version, or empty if it is: 1 to 64 characters of letters,
// digits, '-', '_', '.', starting with a letter or digit, and not "latest" (which names the
// newest version when reading).
std::string version_problem(std::string_view version);

// Registering a version whose hash may already exist.
enum class VersionCheck {
    created,    // no such version yet: 201
    unchanged,  // same hash as registered: 200, nothing to do
    conflict,   // another hash under that version: 409, versions are immutable
};

VersionCheck check_version(const std::optional<std::string>& existing_hash,
                           std::string_view new_hash);
int http_status(VersionCheck check);

// Whether `text` is an environment hash: 64 lowercase hex characters.
bool is_environment_hash(std::string_view text);

}  // namespace environment
