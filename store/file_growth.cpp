#include "store/file_growth.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace store {

namespace {

const char k_zeros[FileGrowth::k_piece] = {};

}  // namespace

FileGrowth::FileGrowth(MDB_env* env, int fd, std::uint64_t page_size)
    : m_env(env), m_fd(fd), m_page_size(page_size) {}

void FileGrowth::prepare(MDB_txn* txn, std::uint64_t bytes) {
    if (m_fd < 0 || bytes == 0 || txn == nullptr) return;
    MDB_envinfo info;
    if (mdb_env_info(m_env, &info) != 0) return;
    // A write transaction based on the last commit: the meta just read is the one it started
    // from, and nobody else can commit until it ends.
    if (mdb_txn_id(txn) != info.me_last_txnid + 1) return;
    struct stat st {};
    if (::fstat(m_fd, &st) != 0) return;
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const std::uint64_t used = (std::uint64_t{info.me_last_pgno} + 1) * m_page_size;
    const std::uint64_t pages = (bytes + m_page_size - 1) / m_page_size;
    const std::uint64_t target =
        std::min<std::uint64_t>(used + pages * m_page_size, info.me_mapsize);
    const std::uint64_t start = std::max(size, used);
    std::uint64_t at = start;
    while (at < target) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(k_piece, target - at));
        const ssize_t w = ::pwrite(m_fd, k_zeros, n, static_cast<off_t>(at));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            // Pages past `used` are in no snapshot, and this transaction has written none.
            std::ignore = ::ftruncate(m_fd, static_cast<off_t>(start));
            return;
        }
        at += static_cast<std::uint64_t>(w);
    }
    m_written += at - start;
}

}  // namespace store
