#pragma once
// An anonymous append-only temporary file: created under a directory and unlinked at once, so
// it disappears with its last descriptor, even after a crash.

#include <cstdint>
#include <filesystem>
#include <span>

#include <boost/system/result.hpp>

namespace proxy::fetch {

class SpoolFile {
  public:
    static boost::system::result<SpoolFile> create(const std::filesystem::path& dir);
    SpoolFile(SpoolFile&& other) noexcept;
    SpoolFile& operator=(SpoolFile&& other) noexcept;
    SpoolFile(const SpoolFile&) = delete;
    SpoolFile& operator=(const SpoolFile&) = delete;
    ~SpoolFile();

    // Writes all of `bytes` at `offset`.
    boost::system::result<void> write_at(std::uint64_t offset, std::span<const char> bytes);
    // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
    boost::system::result<std::size_t> read_at(std::uint64_t offset, std::span<char> out) const;

  private:
    explicit SpoolFile(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

}  // namespace proxy::fetch
