#include "store/chunk_codec.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <new>

#include "store/crc32c.hpp"
#include "store/errors.hpp"

namespace store {
namespace {

bool starts_with(std::span<const char> bytes, std::initializer_list<unsigned char> magic) {
    if (bytes.size() < magic.size()) return false;
    return std::equal(magic.begin(), magic.end(), bytes.begin(),
                      [](unsigned char m, char b) { return m == static_cast<unsigned char>(b); });
}

struct FreeDCtx {
    void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

ZSTD_DCtx* thread_dctx() {
    // One decompression context per reading thread, reused across chunks.
    thread_local std::unique_ptr<ZSTD_DCtx, FreeDCtx> dctx(ZSTD_createDCtx());
    return dctx.get();
}

}  // namespace

bool is_precompressed(std::string_view media_type, std::span<const char> first_bytes) {
    std::string lower(media_type);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (std::string_view marker : {"gzip", "zstd", "+gz", ".gz", "+xz", "bzip2", "encrypted"}) {
        if (lower.find(marker) != std::string::npos) return true;
    }
    return starts_with(first_bytes, {0x1f, 0x8b}) ||                      // gzip
           starts_with(first_bytes, {0x28, 0xb5, 0x2f, 0xfd}) ||          // zstd
           starts_with(first_bytes, {0xfd, '7', 'z', 'X', 'Z', 0x00}) ||  // xz
           starts_with(first_bytes, {'B', 'Z', 'h'});                     // bzip2
}

ChunkEncoder::ChunkEncoder(int level, double min_saving)
    : m_cctx(ZSTD_createCCtx()), m_level(level), m_min_saving(min_saving) {
    if (!m_cctx) throw std::bad_alloc();
}

Codec ChunkEncoder::encode(std::span<const char> raw, std::string& out) {
    const auto limit =
        static_cast<std::size_t>(static_cast<double>(raw.size()) * (1.0 - m_min_saving));
    if (raw.size() < 64 || limit == 0) return Codec::raw;
    if (m_last_raw && raw.size() > 4 * k_probe_size) {
        // The previous chunk did not compress: try a sample first, and skip the whole chunk
        // if the sample does not save at least half of min_saving. Saves most of the zstd time
        // on incompressible layers while still noticing when the data turns compressible.
        const auto sample = raw.first(k_probe_size);
        out.resize(ZSTD_compressBound(sample.size()));
        const std::size_t n = ZSTD_compressCCtx(m_cctx.get(), out.data(), out.size(), sample.data(),
                                                sample.size(), m_level);
        const double saved = 1.0 - static_cast<double>(n) / static_cast<double>(sample.size());
        if (ZSTD_isError(n) || saved < m_min_saving / 2) return Codec::raw;
    }
    out.resize(ZSTD_compressBound(raw.size()));
    const std::size_t n =
        ZSTD_compressCCtx(m_cctx.get(), out.data(), out.size(), raw.data(), raw.size(), m_level);
    m_last_raw = ZSTD_isError(n) || n > limit;
    if (m_last_raw) return Codec::raw;
    out.resize(n);
    return Codec::zstd;
}

boost::system::error_code decode_chunk(const ChunkEntry& entry, std::string_view payload,
                                       std::size_t expected_size, ChunkBuffer& out) {
    switch (entry.codec) {
        case Codec::raw:
            if (payload.size() != expected_size) return errc::corrupt;
            if (crc32c_copy(out.resize_for_overwrite(expected_size), payload) != entry.crc)
                return errc::corrupt;
            return {};
        case Codec::zstd: {
            if (crc32c(payload) != entry.crc) return errc::corrupt;
            ZSTD_DCtx* dctx = thread_dctx();
            if (!dctx) return errc::io_error;
            char* target = out.resize_for_overwrite(expected_size);
            const std::size_t n =
                ZSTD_decompressDCtx(dctx, target, expected_size, payload.data(), payload.size());
            if (ZSTD_isError(n) || n != expected_size) return errc::corrupt;
            return {};
        }
    }
    return errc::corrupt;
}

}  // namespace store
