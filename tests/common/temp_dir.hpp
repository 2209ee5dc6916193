#pragma once
// A fresh directory under the system temp dir for one test, removed with everything in it when
// the object goes out of scope. Shared by the tests of every module.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace test_util {

class TempDir {
  public:
    explicit TempDir(std::string_view prefix = "envcache-test") {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        m_path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }

    // Writes `contents` to `relative` (creating its folders) and returns the file's path.
    std::filesystem::path write(const std::string& relative, std::string_view contents) const {
        const auto file = m_path / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << contents;
        return file;
    }

  private:
    std::filesystem::path m_path;
};

}  // namespace test_util
