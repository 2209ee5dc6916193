#pragma once
// Small string helpers shared by the spec parsers.

#include <string>
#include <string_view>
#include <vector>

namespace environment::text {

bool is_space(char c);
std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
bool starts_with_icase(std::string_view s, std::string_view prefix);
std::string remove_spaces(std::string_view s);
// Runs of whitespace outside single/double quotes become one space; leading/trailing dropped.
std::string collapse_spaces_outside_quotes(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
// Splits text into lines on '\n', dropping a trailing '\r' from each.
std::vector<std::string_view> lines(std::string_view s);

}  // namespace environment::text
