#pragma once
// LMDB 0.9's page layout (struct MDB_page and the node sizes in mdb.c), which lmdb.h does not
// export. The chunk reader uses it to find a large value's offset in the data file; the writer
// uses it to count the pages a value takes. The reader checks it at start-up and against the
// map on every read (see ChunkReader), so a different layout costs the pread path, never
// correctness.

#include <cstddef>
#include <cstdint>

#include <lmdb.h>

static_assert(MDB_VERSION_MAJOR == 0 && MDB_VERSION_MINOR == 9,
              "store/lmdb_page.hpp describes LMDB 0.9's page layout");

namespace store::lmdb_page {

// PAGEHDRSZ: the header before a page's data. A large value's bytes start right after the
// header of the first page of its overflow run.
inline constexpr std::size_t k_header_size = 16;
// mp_pgno, a pgno_t (size_t): the page's number; the page starts at number * page size.
using Number = std::size_t;
inline constexpr std::size_t k_number_offset = 0;
// mp_flags, after the 2-byte mp_pad.
using Flags = std::uint16_t;
inline constexpr std::size_t k_flags_offset = 10;
// P_OVERFLOW: the first page of an overflow run, which holds one large value.
inline constexpr Flags k_overflow_flag = 0x04;
// mp_pages: how many pages the overflow run has.
using OverflowPages = std::uint32_t;
inline constexpr std::size_t k_overflow_pages_offset = 12;
static_assert(k_number_offset + sizeof(Number) <= k_flags_offset);
static_assert(k_overflow_pages_offset + sizeof(OverflowPages) <= k_header_size);

// NODESIZE: the header of a leaf node, before its key and data.
inline constexpr std::size_t k_node_header_size = 8;

// me_nodemax: a leaf node (header, key and data) larger than this puts its data on overflow
// pages. MDB_MINKEYS = 2 nodes must fit a page, less one 2-byte slot index.
inline constexpr std::uint64_t node_max(std::uint64_t page_size) {
    return ((page_size - k_header_size) / 2 & ~std::uint64_t{1}) - 2;
}

// OVPAGES: the pages of the overflow run that holds a value of `bytes` bytes.
inline constexpr std::uint64_t overflow_pages(std::uint64_t bytes, std::uint64_t page_size) {
    return (bytes + k_header_size + page_size - 1) / page_size;
}

}  // namespace store::lmdb_page
