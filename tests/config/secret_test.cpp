#include "config/secret.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/common/temp_dir.hpp"

namespace fs = std::filesystem;

TEST_CASE("a secret file is read without trailing newlines, and not at all when too big",
          "[config][secret]") {
    const test_util::TempDir tmp("envcache-secret");
    const fs::path& dir = tmp.path();

    std::ofstream(dir / "lf") << "line one\nline two\n\n";
    CHECK(config::read_secret_file(dir / "lf") == "line one\nline two");
    std::ofstream(dir / "none") << "no newline";
    CHECK(config::read_secret_file(dir / "none") == "no newline");
    std::ofstream(dir / "empty") << "";
    CHECK(config::read_secret_file(dir / "empty") == "");
    std::ofstream(dir / "big") << std::string(64 * 1024 + 1, 'x');
    CHECK_FALSE(config::read_secret_file(dir / "big").has_value());
    std::ofstream(dir / "limit") << std::string(64 * 1024, 'x');
    CHECK(config::read_secret_file(dir / "limit").value().size() == 64 * 1024);
    CHECK_FALSE(config::read_secret_file(dir / "missing").has_value());
    CHECK_FALSE(config::read_secret_file(dir).has_value());

    fs::remove_all(dir);
}

TEST_CASE("a secret environment variable is read, and an unset one is absent", "[config][secret]") {
    ::setenv("ENVCACHE_TEST_SECRET_VAR", "value\n", 1);
    CHECK(config::read_secret_env("ENVCACHE_TEST_SECRET_VAR") == "value");
    ::setenv("ENVCACHE_TEST_SECRET_VAR", "", 1);
    CHECK(config::read_secret_env("ENVCACHE_TEST_SECRET_VAR") == "");
    ::unsetenv("ENVCACHE_TEST_SECRET_VAR");
    CHECK_FALSE(config::read_secret_env("ENVCACHE_TEST_SECRET_VAR").has_value());
    CHECK_FALSE(config::read_secret_env("").has_value());
}
