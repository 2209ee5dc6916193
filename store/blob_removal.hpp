#pragma once
// Deleting a blob's chunks and record inside a write transaction (on the writer thread, or
// during recovery before it starts).

#include <cstdint>
#include <optional>

#include <lmdb.h>

#include "store/digest.hpp"
#include "store/store_env.hpp"

namespace store {

enum class BlobRemoval {
    partial_only,  // a blob that is still being written (or was, before a crash)
    complete_too,  // any blob
};

// Deletes every chunk of `digest` and its blob record; with BlobRemoval::partial_only a
// complete blob is left alone. Returns an LMDB code. Sets *removed_size (when given) to the
// size of a complete blob that was removed, and resets it otherwise.
int delete_blob(MDB_txn* txn, const Databases& dbs, const Digest& digest, BlobRemoval which,
                std::optional<std::uint64_t>* removed_size);

// Deletes the lowest-numbered chunk of `digest` that is left; `deleted` says whether there was
// one. Returns an LMDB code. For freeing a blob one chunk per commit when the map is full.
int delete_first_chunk(MDB_txn* txn, const Databases& dbs, const Digest& digest, bool& deleted);

}  // namespace store
