#pragma once
// CRC-32C (Castagnoli) of a byte range: the per-chunk checksum, checked on every chunk read.
// Uses carry-less multiply folding on CPUs with AVX-512 VPCLMULQDQ (tens of GB/s), the SSE4.2
// crc32 instruction otherwise (about a quarter of that), a table on other CPUs. All give the
// same values.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace store {

std::uint32_t crc32c(std::span<const char> bytes, std::uint32_t crc = 0) noexcept;

// Copies `src` to `dst` (which must have room for src.size() bytes) and returns the CRC-32C
// of the bytes, reading the source from memory only once.
std::uint32_t crc32c_copy(char* dst, std::span<const char> src) noexcept;

namespace detail {

// For tests: the implementations this CPU can run ("table", then "sse4.2", "vpclmulqdq"), and
// the CRC by one of them. A name not in the list runs the table.
std::vector<std::string> crc32c_implementations();
std::uint32_t crc32c_with(std::string_view implementation, std::span<const char> bytes,
                          std::uint32_t crc = 0) noexcept;

}  // namespace detail

}  // namespace store
