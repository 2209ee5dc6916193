#pragma once
// Start-up recovery: what a crash or kill can leave behind is cleared before the store is used.

#include <cstdint>

#include "store/blob_store.hpp"
#include "store/store_env.hpp"

namespace store {

struct Recovery {
    RecoveryReport report;         // all but read_path, which is the chunk reader's
    std::uint64_t blob_bytes = 0;  // sum of the sizes of the complete blobs
};

// Clears the reader slots of dead processes, then, in one write transaction, removes every blob
// whose record is not complete (its writer was interrupted) with its chunks, and counts the
// complete ones. Call before any writer runs.
result<Recovery> recover(const StoreEnv& env);

}  // namespace store
