#pragma once
// For tests of the store's parts below BlobStore: its LMDB environment opened in a temporary
// directory, and raw puts into its tables.

#include <string>
#include <utility>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/lmdb.hpp"
#include "store/store_env.hpp"
#include "store_test_util.hpp"

namespace store::test {

inline StoreEnv open_env(const TempDir& dir) {
    auto env = StoreEnv::open(options_for(dir));
    REQUIRE(env.has_value());
    return std::move(*env);
}

// Puts key -> value in `dbi`; an LMDB code.
inline int put(MDB_txn* txn, MDB_dbi dbi, const std::string& key, const std::string& value) {
    MDB_val k = lmdb::val(key);
    MDB_val v = lmdb::val(value);
    return mdb_put(txn, dbi, &k, &v, 0);
}

}  // namespace store::test
