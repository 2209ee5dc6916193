#include "store/chunk_reader.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <span>
#include <sys/mman.h>
#include <sys/types.h>
#include <tuple>
#include <unistd.h>

#include "store/chunk_codec.hpp"
#include "store/crc32c.hpp"
#include "store/errors.hpp"
#include "store/lmdb.hpp"

namespace store {
namespace {

// Maps a whole chunk value in one call before it is copied: touching a cold mapping page by
// page would fault it in by small read-ahead windows, and even cached pages cost a fault per
// few pages the first time this process reads them. Falls back to a read-ahead hint on
// kernels without MADV_POPULATE_READ (before 5.14). Best effort: errors are ignored.
void prefault(const MDB_val& v) {
    if (v.mv_size < 64 * 1024) return;
    static const auto k_page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(v.mv_data) & ~(k_page - 1);
    const auto end = reinterpret_cast<std::uintptr_t>(v.mv_data) + v.mv_size;
    void* addr = reinterpret_cast<void*>(begin);
#ifdef MADV_POPULATE_READ
    static std::atomic<bool> populate_works{true};
    if (populate_works.load(std::memory_order_relaxed)) {
        if (madvise(addr, end - begin, MADV_POPULATE_READ) == 0) return;
        if (errno == EINVAL) populate_works = false;
    }
#endif
    std::ignore = madvise(addr, end - begin, MADV_WILLNEED);
}

}  // namespace

boost::system::error_code ChunkReader::read(const MDB_val& value, const ChunkEntry& entry,
                                            std::size_t expected, std::string& out) const {
    const bool large = value.mv_size >= 64 * 1024;
    // A large value sits on LMDB overflow pages: its bytes follow the first page's 16-byte
    // header, whose first field is that page's number (LMDB 0.9 page layout, checked below
    // against the map before the copy is trusted).
    constexpr std::size_t k_page_header = 16;
    constexpr std::uint16_t k_overflow_flag = 0x04;
    const char* header = static_cast<const char*>(value.mv_data) - k_page_header;
    std::uint64_t page_number = 0;
    std::uint16_t flags = 0;
    if (large) {
        std::memcpy(&page_number, header, sizeof page_number);
        std::memcpy(&flags, header + 10, sizeof flags);
    }
    if (large && m_fd >= 0 && (flags & k_overflow_flag)) {
        const auto offset = static_cast<off_t>(page_number * m_page_size + k_page_header);
        thread_local std::string scratch;
        std::string& target = entry.codec == Codec::raw ? out : scratch;
        target.resize(value.mv_size);
        std::size_t done = 0;
        while (done < value.mv_size) {
            const ssize_t n = ::pread(m_fd, target.data() + done, value.mv_size - done,
                                      offset + static_cast<off_t>(done));
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        // The first bytes must be what the map shows (that page is mapped for the header
        // anyway); otherwise the layout is not what this code expects: use the map.
        const std::size_t check = std::min<std::size_t>(value.mv_size, 4096 - k_page_header);
        if (done == value.mv_size && std::memcmp(target.data(), value.mv_data, check) == 0) {
            if (entry.codec != Codec::raw) return decode_chunk(entry, scratch, expected, out);
            if (value.mv_size != expected) return errc::corrupt;
            if (crc32c(std::span<const char>(out.data(), out.size())) != entry.crc)
                return errc::corrupt;
            return {};
        }
    }
    prefault(value);
    return decode_chunk(entry, lmdb::view(value), expected, out);
}

}  // namespace store
