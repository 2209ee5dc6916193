#include "store/store_env.hpp"

#include <algorithm>
#include <system_error>
#include <utility>

#include "store/errors.hpp"

namespace store {
namespace {

constexpr std::uint64_t k_min_map = 64ull << 20;
constexpr std::uint64_t k_map_granularity = 4096;

}  // namespace

std::uint64_t map_size_for(const Options& options) {
    std::uint64_t map = options.map_size;
    if (map == 0) map = std::max(2 * options.max_size, k_min_map);
    return (map + k_map_granularity - 1) / k_map_granularity * k_map_granularity;
}

result<StoreEnv> StoreEnv::open(const Options& options) {
    std::error_code fs_ec;
    std::filesystem::create_directories(options.path, fs_ec);
    if (fs_ec) return errc::io_error;

    StoreEnv env;
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0) return lmdb_error(rc);
    env.m_env = lmdb::Env(raw);
    int rc = mdb_env_set_mapsize(raw, map_size_for(options));
    if (rc == 0) rc = mdb_env_set_maxdbs(raw, 8);
    if (rc == 0) rc = mdb_env_set_maxreaders(raw, 510);
    // NOTLS: read transactions are not tied to threads. NOMETASYNC: the meta page is flushed
    // with the next commit, so a crash loses at most the last commit, never consistency.
    if (rc == 0) rc = mdb_env_open(raw, options.path.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0644);
    if (rc != 0) return lmdb_error(rc);
    MDB_stat st;
    if ((rc = mdb_env_stat(raw, &st)) != 0) return lmdb_error(rc);
    env.m_page_size = st.ms_psize;
    env.m_max_key = static_cast<std::size_t>(mdb_env_get_maxkeysize(raw));
    if (mdb_env_get_fd(raw, &env.m_fd) != 0) env.m_fd = -1;

    lmdb::Txn txn;
    if ((rc = txn.begin(raw, 0)) != 0) return lmdb_error(rc);
    for (auto [name, dbi] : {std::pair{"blobs", &env.m_dbs.blobs},
                             {"chunks", &env.m_dbs.chunks},
                             {"tags", &env.m_dbs.tags},
                             {"refs", &env.m_dbs.refs},
                             {"records", &env.m_dbs.records}}) {
        if ((rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi)) != 0) return lmdb_error(rc);
    }
    if ((rc = txn.commit()) != 0) return lmdb_error(rc);
    return env;
}

}  // namespace store
