#pragma once
// The store's LMDB environment: the data file under Options::path, its map, and the databases
// of the layout in records.hpp.

#include <cstddef>
#include <cstdint>

#include <lmdb.h>

#include "store/blob_store.hpp"
#include "store/lmdb.hpp"

namespace store {

struct Databases {
    MDB_dbi blobs = 0;
    MDB_dbi chunks = 0;
    MDB_dbi tags = 0;
    MDB_dbi refs = 0;
    MDB_dbi records = 0;
};

// The map size the store opens with: Options::map_size, or 2 x max_size (at least 64 MiB)
// when that is 0; rounded up to a multiple of 4 KiB.
std::uint64_t map_size_for(const Options& options);

class StoreEnv {
  public:
    // Creates the directory if needed, opens the environment with map_size_for(options) and
    // creates the databases that do not exist yet. Recovery is separate (see recovery.hpp).
    static result<StoreEnv> open(const Options& options);

    MDB_env* get() const noexcept { return m_env.get(); }
    const Databases& dbs() const noexcept { return m_dbs; }
    std::uint64_t page_size() const noexcept { return m_page_size; }
    std::size_t max_key() const noexcept { return m_max_key; }
    // LMDB's data file, for reading large values with pread; -1 if LMDB gave none.
    int data_fd() const noexcept { return m_fd; }

  private:
    StoreEnv() = default;

    lmdb::Env m_env;
    Databases m_dbs;
    std::uint64_t m_page_size = 4096;
    std::size_t m_max_key = 511;
    int m_fd = -1;  // owned by m_env
};

}  // namespace store
