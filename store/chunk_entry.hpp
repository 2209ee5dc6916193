#pragma once
// How one chunk is stored: its codec and the CRC-32C of its stored payload. Kept in the blob's
// record (records.hpp), and handed to readers of a blob still being written (WrittenChunk).

#include <cstdint>

namespace store {

enum class Codec : std::uint8_t { raw = 0, zstd = 1 };

struct ChunkEntry {
    Codec codec = Codec::raw;
    std::uint32_t crc = 0;  // CRC-32C of the stored payload
};

}  // namespace store
