#pragma once
// Reads a stored chunk payload and decodes it. Large payloads are copied with pread at their
// offset in LMDB's data file rather than through the map: the bytes are the same (LMDB writes
// the file the map shows, and the caller's read transaction keeps these pages from being
// reused), but the process never maps them, so serving a large blob does not grow envcache's
// RSS by the blob's size. The offset comes from the value's overflow page header (see
// lmdb_page.hpp). Once the self-check has found where the map starts (from its probe's page
// number and address), the reader finds a header's offset from the value's address and preads
// the header too, so it never touches the map for a large value
// (touching even the header maps the page-cache folio around it: on recent kernels, up to the
// whole chunk). Small payloads, and any large one whose page does not look as expected, go
// through the map.

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include <boost/system/error_code.hpp>
#include <lmdb.h>

#include "store/chunk_buffer.hpp"
#include "store/records.hpp"

namespace store {

class ChunkReader {
  public:
    // Payloads from this size on take the pread path. Any value this large is on overflow
    // pages, for every page size LMDB supports (node_max is under half a page, at most 32 KiB).
    static constexpr std::size_t k_pread_min_bytes = 64 * 1024;

    // Reads everything through the map.
    ChunkReader() = default;
    // Copies large payloads with pread from `data_fd`, LMDB's data file of `page_size`-byte
    // pages; a negative `data_fd` means the map only. The descriptor is not owned. Trusts the
    // page layout until self_check says otherwise.
    ChunkReader(int data_fd, std::uint64_t page_size) : m_fd(data_fd), m_page_size(page_size) {
        if (m_fd >= 0) m_read_path = "pread";
    }

    // Commits a large probe value to `dbi` of `env` (the environment `data_fd` belongs to),
    // under a key no chunk has, checks that pread returns exactly the bytes the map shows, and
    // deletes the probe. When it does, the probe's page number and address also say where the
    // map starts, and headers are read with pread from then on. When it does not, or the check
    // cannot run, every read goes through the map from then on. Call once, before any concurrent
    // use and while no write transaction of this process is open.
    void self_check(MDB_env* env, MDB_dbi dbi);
    // "pread", or "map: <why pread is not used>".
    const std::string& read_path() const { return m_read_path; }

    // Checks `value` -- a chunk payload found in a transaction that is still open -- against
    // `entry`'s CRC-32C and decodes its `expected` logical bytes into `out` (replaced).
    // errc::corrupt when the checksum does not match or the payload does not decode to exactly
    // that size; `out` is then unspecified. Safe to call from any thread.
    boost::system::error_code read(const MDB_val& value, const ChunkEntry& entry,
                                   std::size_t expected, ChunkBuffer& out) const;

  private:
    enum class Copy {
        done,
        not_overflow,
        wrong_page_count,
        short_read,
        differs_from_map,
        header_elsewhere,
    };
    static const char* describe(Copy outcome);
    // Copies the large `value` into `target` with pread, if its page header and first bytes are
    // as expected.
    Copy copy_with_pread(const MDB_val& value, ChunkBuffer& target) const;

    // The page header of `value`, read with pread at the offset its address gives in the map
    // (m_map_base set), or from the map.
    Copy read_header(const MDB_val& value, char (&header)[16], off_t& offset) const;

    int m_fd = -1;
    std::uint64_t m_page_size = 4096;
    const char* m_map_base = nullptr;  // null: headers are read from the map
    std::size_t m_map_size = 0;
    std::string m_read_path = "map: no data file";
};

}  // namespace store
