#pragma once
// Helpers shared by the store tests: temporary directories, generated data, whole-blob I/O.

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/blob_store.hpp"
#include "store/records.hpp"
#include "store/sha256.hpp"
#include "tests/common/temp_dir.hpp"

namespace store::test {

using test_util::TempDir;

inline std::string random_bytes(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    std::string out(n, '\0');
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t v = rng();
        std::memcpy(out.data() + i, &v, 8);
    }
    for (; i < n; ++i)
        out[i] = static_cast<char>(rng());
    return out;
}

// Words from a small vocabulary: compresses several times with zstd, like source or JSON.
inline std::string text_bytes(std::size_t n, std::uint64_t seed = 2) {
    static constexpr std::string_view k_words[] = {
        "import", "numpy", "as",        "np", "def",   "return", "self",  "class",
        "for",    "in",    "range",     "if", "else",  "print",  "value", "config",
        "{",      "}",     "\"name\":", "=",  "torch", "conda",  "pip",   "install",
        "env",    "layer", "0.1.2",     "\n", "    ",  "True"};
    std::mt19937_64 rng(seed);
    std::string out;
    out.reserve(n + 16);
    while (out.size() < n) {
        out.append(k_words[rng() % std::size(k_words)]);
        out.push_back(' ');
    }
    out.resize(n);
    return out;
}

inline Digest digest_of(std::string_view bytes) {
    return Sha256::of(std::span<const char>(bytes.data(), bytes.size()));
}

inline Options options_for(const TempDir& dir) {
    Options o;
    o.path = dir.path() / "store";
    o.map_size = 1ull << 30;
    return o;
}

// Writes `bytes` in pieces of `piece` bytes under `digest` and commits.
inline result<void> write_blob(BlobStore& store, const Digest& digest, std::string_view bytes,
                               std::string media_type = "application/octet-stream",
                               std::size_t piece = 100'000) {
    auto writer = store.begin(digest, std::move(media_type));
    if (!writer) return writer.error();
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        const auto n = std::min(piece, bytes.size() - at);
        if (auto r = (*writer)->append(std::span<const char>(bytes.data() + at, n)); !r) {
            return r;
        }
    }
    return (*writer)->commit();
}

inline Digest put_blob(BlobStore& store, std::string_view bytes,
                       std::string media_type = "application/octet-stream") {
    const Digest d = digest_of(bytes);
    auto r = write_blob(store, d, bytes, std::move(media_type));
    REQUIRE(r.has_value());
    return d;
}

// The whole blob through read_range; empty optional on error.
inline std::optional<std::string> read_all(BlobStore& store, const Digest& d) {
    auto info = store.stat(d);
    if (!info || !*info) return std::nullopt;
    std::string out;
    auto r = store.read_range(d, 0, (*info)->size, [&](std::span<const char> piece) {
        out.append(piece.data(), piece.size());
        return true;
    });
    if (!r) return std::nullopt;
    return out;
}

inline std::unique_ptr<BlobStore> open_store(const Options& o, RecoveryReport* report = nullptr) {
    auto s = BlobStore::open(o, report);
    REQUIRE(s.has_value());
    return std::move(*s);
}

}  // namespace store::test

namespace store::test {

// Direct access to the LMDB files of a closed store, to inspect or damage what is on disk.
class RawEnv {
  public:
    explicit RawEnv(const std::filesystem::path& path) {
        REQUIRE(mdb_env_create(&m_env) == 0);
        mdb_env_set_maxdbs(m_env, 8);
        mdb_env_set_mapsize(m_env, 1ull << 30);
        REQUIRE(mdb_env_open(m_env, path.c_str(), 0, 0644) == 0);
    }
    ~RawEnv() { mdb_env_close(m_env); }
    RawEnv(const RawEnv&) = delete;
    RawEnv& operator=(const RawEnv&) = delete;

    std::size_t entries(const char* db) {
        MDB_txn* txn = nullptr;
        REQUIRE(mdb_txn_begin(m_env, nullptr, MDB_RDONLY, &txn) == 0);
        MDB_dbi dbi;
        REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
        MDB_stat st;
        REQUIRE(mdb_stat(txn, dbi, &st) == 0);
        mdb_txn_abort(txn);
        return st.ms_entries;
    }

    // Flips one byte in the stored payload of a chunk.
    void flip_chunk_byte(const Digest& d, std::uint32_t index, std::size_t at) {
        MDB_txn* txn = nullptr;
        REQUIRE(mdb_txn_begin(m_env, nullptr, 0, &txn) == 0);
        MDB_dbi dbi;
        REQUIRE(mdb_dbi_open(txn, "chunks", 0, &dbi) == 0);
        std::string key = chunk_key(d, index);
        MDB_val k{key.size(), key.data()};
        MDB_val v;
        REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
        std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
        REQUIRE(at < value.size());
        value[at] = static_cast<char>(value[at] ^ 0x5a);
        MDB_val nv{value.size(), value.data()};
        REQUIRE(mdb_put(txn, dbi, &k, &nv, 0) == 0);
        REQUIRE(mdb_txn_commit(txn) == 0);
    }

  private:
    MDB_env* m_env = nullptr;
};

}  // namespace store::test
