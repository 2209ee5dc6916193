#pragma once
// Reads a stored chunk payload and decodes it. Large payloads are copied with pread at their
// offset in LMDB's data file rather than through the map: the bytes are the same (LMDB writes
// the file the map shows, and the caller's read transaction keeps these pages from being
// reused), but the process never maps them, so serving a large blob does not grow envcache's
// RSS by the blob's size. Small payloads, and any large one whose page does not look as
// expected, go through the map.

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/system/error_code.hpp>
#include <lmdb.h>

#include "store/records.hpp"

namespace store {

class ChunkReader {
  public:
    // Reads everything through the map.
    ChunkReader() = default;
    // Copies large payloads with pread from `data_fd`, LMDB's data file of `page_size`-byte
    // pages; a negative `data_fd` means the map only. The descriptor is not owned.
    ChunkReader(int data_fd, std::uint64_t page_size) : m_fd(data_fd), m_page_size(page_size) {}

    // Checks `value` -- a chunk payload found in a transaction that is still open -- against
    // `entry`'s CRC-32C and decodes its `expected` logical bytes into `out` (replaced).
    // errc::corrupt when the checksum does not match or the payload does not decode to exactly
    // that size; `out` is then unspecified. Safe to call from any thread.
    boost::system::error_code read(const MDB_val& value, const ChunkEntry& entry,
                                   std::size_t expected, std::string& out) const;

  private:
    int m_fd = -1;
    std::uint64_t m_page_size = 4096;
};

}  // namespace store
