#pragma once
// CRC-32C (Castagnoli) of a byte range: the per-chunk checksum. Uses the SSE4.2 instruction
// when the CPU has it (several GB/s, so checking every chunk read costs little), a table
// otherwise. Both give the same values.

#include <cstdint>
#include <span>

namespace store {

std::uint32_t crc32c(std::span<const char> bytes, std::uint32_t crc = 0) noexcept;

// Copies `src` to `dst` (which must have room for src.size() bytes) and returns the CRC-32C
// of the bytes, reading the source from memory only once.
std::uint32_t crc32c_copy(char* dst, std::span<const char> src) noexcept;

}  // namespace store
