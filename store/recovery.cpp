#include "store/recovery.hpp"

#include <tuple>
#include <vector>

#include "store/blob_removal.hpp"
#include "store/errors.hpp"
#include "store/lmdb.hpp"
#include "store/records.hpp"

namespace store {

result<Recovery> recover(const StoreEnv& env) {
    Recovery out;
    int stale = 0;
    std::ignore = mdb_reader_check(env.get(), &stale);  // best effort; usage() retries
    out.report.stale_readers = stale;

    lmdb::Txn txn;
    int rc = txn.begin(env.get(), 0);
    if (rc != 0) return lmdb_error(rc);
    std::vector<Digest> partial;
    {
        lmdb::Cursor cursor;
        if ((rc = cursor.open(txn.get(), env.dbs().blobs)) != 0) return lmdb_error(rc);
        MDB_val k, v;
        for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
            auto d = digest_from_key(lmdb::view(k));
            auto rec = decode_blob(lmdb::view(v), false);
            if (!d) continue;
            if (rec && rec->state == BlobState::complete) {
                ++out.report.blobs;
                out.blob_bytes += rec->info.size;
            } else {
                partial.push_back(*d);
            }
        }
        if (rc != MDB_NOTFOUND) return lmdb_error(rc);
    }
    for (const auto& d : partial) {
        rc = delete_blob(txn.get(), env.dbs(), d, BlobRemoval::partial_only, nullptr);
        if (rc != 0) return lmdb_error(rc);
    }
    out.report.partial_removed = partial.size();
    if ((rc = txn.commit()) != 0) return lmdb_error(rc);
    return out;
}

}  // namespace store
