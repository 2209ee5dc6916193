#pragma once
// Loading a config text in a test: the config it gives, or the message it is refused with.

#include <string>

#include <catch2/catch.hpp>

#include "config/load.hpp"

namespace test_util {

inline config::Config accepted(const std::string& yaml) {
    auto result = config::load_from_string(yaml, "test.yml");
    if (!result) FAIL("rejected: " << result.error().message());
    return *result;
}

inline std::string rejected(const std::string& yaml) {
    const auto result = config::load_from_string(yaml, "test.yml");
    if (result) FAIL("accepted:\n" << yaml);
    return result.error().message();
}

}  // namespace test_util
