#include "config/secret.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace config {

namespace {

constexpr std::uintmax_t k_max_secret_bytes = 64 * 1024;

std::string without_trailing_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

}  // namespace

std::optional<std::string> read_secret_file(const std::filesystem::path& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > k_max_secret_bytes) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::string contents{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return std::nullopt;
    return without_trailing_newlines(std::move(contents));
}

std::optional<std::string> read_secret_env(const std::string& name) {
    if (name.empty()) return std::nullopt;
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return without_trailing_newlines(value);
}

}  // namespace config
