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
#include "store/lmdb_page.hpp"

namespace store {
namespace {

// The self-check's probe: several overflow pages and a partial last one, each page's bytes
// different, so a copy from the wrong page or offset cannot match.
constexpr std::size_t k_probe_bytes = 4 * ChunkReader::k_pread_min_bytes + 123;
// Chunk keys are a digest and an index, 36 bytes: no chunk has a key this long.
constexpr std::string_view k_probe_key =
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    "envcache read path self-check";

std::string probe_bytes() {
    std::string out(k_probe_bytes, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (char& c : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
    }
    return out;
}

// Commits `apply` in a write transaction of its own; an LMDB code.
template <class F>
int commit(MDB_env* env, F&& apply) {
    lmdb::Txn txn;
    int rc = txn.begin(env, 0);
    if (rc == 0) rc = apply(txn.get());
    if (rc == 0) rc = txn.commit();
    return rc;
}

// Maps a whole chunk value in one call before it is copied: touching a cold mapping page by
// page would fault it in by small read-ahead windows, and even cached pages cost a fault per
// few pages the first time this process reads them. Falls back to a read-ahead hint on
// kernels without MADV_POPULATE_READ (before 5.14). Best effort: errors are ignored.
void prefault(const MDB_val& v) {
    if (v.mv_size < ChunkReader::k_pread_min_bytes) return;
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

// Reads exactly `size` bytes at `offset`; false on an error or the end of the file first.
bool pread_exactly(int fd, char* into, std::size_t size, off_t offset) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, into + done, size - done, offset + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

const char* ChunkReader::describe(Copy outcome) {
    switch (outcome) {
        case Copy::done:
            return "pread";
        case Copy::not_overflow:
            return "a large value's page header lacks the overflow flag";
        case Copy::wrong_page_count:
            return "a large value's page header has the wrong page count";
        case Copy::short_read:
            return "pread at the page header's offset came up short";
        case Copy::differs_from_map:
            return "pread at the page header's offset differs from the map";
        case Copy::header_elsewhere:
            return "a large value's page header is not where its address in the map says";
    }
    return "unknown";
}

ChunkReader::Copy ChunkReader::read_header(const MDB_val& value, char (&header)[16],
                                           off_t& offset) const {
    namespace page = lmdb_page;
    static_assert(sizeof header == page::k_header_size);
    const char* data = static_cast<const char*>(value.mv_data);
    if (!m_map_base) {
        std::memcpy(header, data - page::k_header_size, page::k_header_size);
        page::Number number = 0;
        std::memcpy(&number, header + page::k_number_offset, sizeof number);
        offset = static_cast<off_t>(number * m_page_size);
        return Copy::done;
    }
    // The value's page starts k_header_size before it, at a page boundary of the map.
    if (data < m_map_base + page::k_header_size || data >= m_map_base + m_map_size)
        return Copy::header_elsewhere;
    const auto at = static_cast<std::uint64_t>(data - m_map_base) - page::k_header_size;
    if (at % m_page_size != 0) return Copy::header_elsewhere;
    offset = static_cast<off_t>(at);
    if (!pread_exactly(m_fd, header, page::k_header_size, offset)) return Copy::short_read;
    page::Number number = 0;
    std::memcpy(&number, header + page::k_number_offset, sizeof number);
    if (number * m_page_size != at) return Copy::header_elsewhere;
    return Copy::done;
}

ChunkReader::Copy ChunkReader::copy_with_pread(const MDB_val& value, ChunkBuffer& target) const {
    namespace page = lmdb_page;
    char header[page::k_header_size];
    off_t page_offset = 0;
    if (const auto read = read_header(value, header, page_offset); read != Copy::done) return read;
    page::Flags flags = 0;
    page::OverflowPages pages = 0;
    std::memcpy(&flags, header + page::k_flags_offset, sizeof flags);
    std::memcpy(&pages, header + page::k_overflow_pages_offset, sizeof pages);
    if (!(flags & page::k_overflow_flag)) return Copy::not_overflow;
    if (pages != page::overflow_pages(value.mv_size, m_page_size)) return Copy::wrong_page_count;

    const auto offset = page_offset + static_cast<off_t>(page::k_header_size);
    char* bytes = target.resize_for_overwrite(value.mv_size);
    if (!pread_exactly(m_fd, bytes, value.mv_size, offset)) return Copy::short_read;
    // Without the map's range, the header came from the map: the rest of the first page must
    // be what the map shows (it is mapped for the header anyway), or the header did not name
    // this value's page. With it, the header was read at the value's own offset.
    if (!m_map_base) {
        const std::size_t check =
            std::min<std::size_t>(value.mv_size, m_page_size - page::k_header_size);
        if (std::memcmp(bytes, value.mv_data, check) != 0) return Copy::differs_from_map;
    }
    return Copy::done;
}

void ChunkReader::self_check(MDB_env* env, MDB_dbi dbi) {
    if (m_fd < 0) return;  // m_read_path already says why
    const std::string probe = probe_bytes();
    std::string why;
    int rc = commit(env, [&](MDB_txn* txn) {
        MDB_val k = lmdb::val(k_probe_key);
        MDB_val v = lmdb::val(probe);
        return mdb_put(txn, dbi, &k, &v, 0);
    });
    if (rc != 0) {
        why = std::string("self-check could not write its probe: ") + mdb_strerror(rc);
    } else {
        lmdb::ReadTxn t(env);
        MDB_val v;
        rc = t.rc != 0 ? t.rc : lmdb::get(t.get(), dbi, k_probe_key, v);
        ChunkBuffer copy;
        if (rc != 0) {
            why = std::string("self-check could not read its probe: ") + mdb_strerror(rc);
        } else if (auto outcome = copy_with_pread(v, copy); outcome != Copy::done) {
            why = describe(outcome);
        } else if (copy.view() != lmdb::view(v) || copy.view() != probe) {
            why = "pread past the first page differs from the map";
        } else {
            // The probe's page is `number` pages into the file, and so into the map.
            lmdb_page::Number number = 0;
            std::memcpy(&number,
                        static_cast<const char*>(v.mv_data) - lmdb_page::k_header_size +
                            lmdb_page::k_number_offset,
                        sizeof number);
            MDB_envinfo info{};
            mdb_env_info(env, &info);
            m_map_base = static_cast<const char*>(v.mv_data) - lmdb_page::k_header_size -
                         number * m_page_size;
            m_map_size = info.me_mapsize;
        }
    }
    // Best effort: a probe left behind is overwritten and deleted by the next start.
    std::ignore = commit(env, [&](MDB_txn* txn) {
        MDB_val k = lmdb::val(k_probe_key);
        const int del = mdb_del(txn, dbi, &k, nullptr);
        return del == MDB_NOTFOUND ? 0 : del;
    });
    if (why.empty()) {
        m_read_path = "pread";
    } else {
        m_fd = -1;
        m_map_base = nullptr;
        m_read_path = "map: " + why;
    }
}

boost::system::error_code ChunkReader::read(const MDB_val& value, const ChunkEntry& entry,
                                            std::size_t expected, ChunkBuffer& out) const {
    if (m_fd >= 0 && value.mv_size >= k_pread_min_bytes) {
        thread_local ChunkBuffer scratch;
        ChunkBuffer& target = entry.codec == Codec::raw ? out : scratch;
        if (copy_with_pread(value, target) == Copy::done) {
            if (entry.codec != Codec::raw) {
                if (!decode_chunk(entry, scratch.view(), expected, out)) return {};
            } else if (value.mv_size == expected && crc32c(out.span()) == entry.crc) {
                return {};
            }
            // The pread copy fails its check: the map decides, so that an offset gone wrong
            // (a map placed wrongly) costs a slower read, never a sound blob.
        }
    }
    prefault(value);
    return decode_chunk(entry, lmdb::view(value), expected, out);
}

}  // namespace store
