#include "proxy/fetch/spool_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <system_error>
#include <tuple>
#include <unistd.h>

namespace proxy::fetch {

namespace {

boost::system::error_code last_error() {
    return {errno, boost::system::system_category()};
}

}  // namespace

boost::system::result<SpoolFile> SpoolFile::create(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return boost::system::error_code(ec.value(), boost::system::system_category());
    std::string pattern = (dir / "spool-XXXXXX").string();
    const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) return last_error();
    std::ignore = ::unlink(pattern.c_str());
    return SpoolFile(fd);
}

SpoolFile::SpoolFile(SpoolFile&& other) noexcept : m_fd(other.m_fd) {
    other.m_fd = -1;
}

SpoolFile& SpoolFile::operator=(SpoolFile&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

SpoolFile::~SpoolFile() {
    if (m_fd >= 0) ::close(m_fd);
}

boost::system::result<void> SpoolFile::write_at(std::uint64_t offset, std::span<const char> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::pwrite(m_fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

boost::system::result<std::size_t> SpoolFile::read_at(std::uint64_t offset,
                                                      std::span<char> out) const {
    std::size_t total = 0;
    while (total < out.size()) {
        const ssize_t n = ::pread(m_fd, out.data() + total, out.size() - total,
                                  static_cast<off_t>(offset + total));
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        if (n == 0) break;
        total += static_cast<std::size_t>(n);
    }
    return total;
}

}  // namespace proxy::fetch
