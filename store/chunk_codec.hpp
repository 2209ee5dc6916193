#pragma once
// Per-chunk encoding: raw, or zstd where it saves at least `min_saving`.

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>
#include <zstd.h>

#include "store/chunk_buffer.hpp"
#include "store/records.hpp"

namespace store {

// Whether a layer is already compressed, by media type ("...tar+gzip", "...tar.gzip",
// "+zstd", ...) or by the magic bytes at its start (gzip, zstd, xz, bzip2). Such blobs are
// stored raw without trying zstd.
bool is_precompressed(std::string_view media_type, std::span<const char> first_bytes);

// Encodes the chunks of one blob, in order (it remembers how the previous chunk went).
class ChunkEncoder {
  public:
    ChunkEncoder(int level, double min_saving);
    // Returns Codec::zstd with the frame in `out` when compression saves at least min_saving;
    // otherwise Codec::raw, and the caller stores `raw` itself (`out` is then unspecified).
    Codec encode(std::span<const char> raw, std::string& out);

  private:
    struct Free {
        void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
    };
    static constexpr std::size_t k_probe_size = 64 * 1024;

    std::unique_ptr<ZSTD_CCtx, Free> m_cctx;
    int m_level;
    double m_min_saving;
    bool m_last_raw = false;  // the previous chunk of this blob was not worth compressing
};

// Checks a stored chunk payload against its CRC-32C and decodes its `expected_size` logical
// bytes into `out` (replaced). Returns errc::corrupt when the checksum does not match or the
// payload does not decode to exactly that size; `out` is then unspecified.
boost::system::error_code decode_chunk(const ChunkEntry& entry, std::string_view payload,
                                       std::size_t expected_size, ChunkBuffer& out);

}  // namespace store
