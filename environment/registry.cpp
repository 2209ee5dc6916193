#include "environment/registry.hpp"

#include <cctype>

#include "environment/text.hpp"

namespace environment {

namespace {

std::string token_problem(std::string_view what, std::string_view s, std::size_t max) {
    if (s.empty()) return std::string(what) + " is empty";
    if (s.size() > max)
        return std::string(what) + " is longer than " + std::to_string(max) + " characters";
    if (!std::isalnum(static_cast<unsigned char>(s.front())))
        return std::string(what) + " must start with a letter or digit";
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            return std::string(what) + " may contain only letters, digits, '-', '_' and '.'";
    }
    return {};
}

}  // namespace

bool is_reserved_name(std::string_view name) {
    return text::starts_with_icase(name, "AzureML-") || text::starts_with_icase(name, "Microsoft");
}

std::string name_problem(std::string_view name) {
    return token_problem("name", name, 255);
}

std::string version_problem(std::string_view version) {
    auto problem = token_problem("version", version, 64);
    if (problem.empty() && text::lower(version) == "latest")
        problem = "version 'latest' is reserved for reading the newest version";
    return problem;
}

VersionCheck check_version(const std::optional<std::string>& existing_hash,
                           std::string_view new_hash) {
    if (!existing_hash) return VersionCheck::created;
    return *existing_hash == new_hash ? VersionCheck::unchanged : VersionCheck::conflict;
}

int http_status(VersionCheck check) {
    switch (check) {
        case VersionCheck::created:
            return 201;
        case VersionCheck::unchanged:
            return 200;
        case VersionCheck::conflict:
            return 409;
    }
    return 500;
}

bool is_environment_hash(std::string_view text) {
    if (text.size() != 64) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace environment
