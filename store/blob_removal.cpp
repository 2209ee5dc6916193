#include "store/blob_removal.hpp"

#include <string>

#include "store/lmdb.hpp"
#include "store/records.hpp"

namespace store {

int delete_blob(MDB_txn* txn, const Databases& dbs, const Digest& digest, BlobRemoval which,
                std::optional<std::uint64_t>* removed_size) {
    if (removed_size) removed_size->reset();
    const std::string key = blob_key(digest);
    MDB_val v;
    int rc = lmdb::get(txn, dbs.blobs, key, v);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (rc == 0) {
        auto state = blob_state(lmdb::view(v));
        if (state == BlobState::complete) {
            if (which == BlobRemoval::partial_only) return 0;
            if (removed_size) {
                auto rec = decode_blob(lmdb::view(v), false);
                *removed_size = rec ? rec->info.size : 0;
            }
        }
    }
    lmdb::Cursor cursor;
    if ((rc = cursor.open(txn, dbs.chunks)) != 0) return rc;
    const std::string start = chunk_key(digest, 0);
    MDB_val k = lmdb::val(start);
    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    while (rc == 0 && lmdb::view(k).starts_with(key)) {
        if ((rc = mdb_cursor_del(cursor.get(), 0)) != 0) return rc;
        k = lmdb::val(start);
        rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    cursor.close();
    MDB_val bk = lmdb::val(key);
    rc = mdb_del(txn, dbs.blobs, &bk, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int delete_first_chunk(MDB_txn* txn, const Databases& dbs, const Digest& digest, bool& deleted) {
    deleted = false;
    lmdb::Cursor cursor;
    int rc = cursor.open(txn, dbs.chunks);
    if (rc != 0) return rc;
    const std::string prefix = blob_key(digest);
    const std::string start = chunk_key(digest, 0);
    MDB_val k = lmdb::val(start);
    MDB_val v;
    rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND || (rc == 0 && !lmdb::view(k).starts_with(prefix))) return 0;
    if (rc != 0) return rc;
    deleted = true;
    return mdb_cursor_del(cursor.get(), 0);
}

}  // namespace store
