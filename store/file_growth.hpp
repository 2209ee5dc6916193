#pragma once
// The LMDB data file grown ahead of a commit, in small writes.
//
// A commit that appends pages writes them with pwritev calls of up to a whole batch (several
// MiB). On a kernel that does not preempt kernel code (PREEMPT_NONE, the default of many
// virtual machines' kernels), the thread in such a call keeps its CPU until the call returns,
// whatever its nice value; and where the page cache's new pages are dear (a guest whose free
// pages went back to the host: bench/README, "Fresh pages"), one call takes tens of
// milliseconds, while a loop waiting for that CPU answers nothing. Writing the new pages with
// zeros first, in calls of k_piece bytes, puts that cost into calls that return often; the
// commit then overwrites pages already in the page cache, and the pages it overwrites reach
// the disk once. Zero pages it does not overwrite (an estimate above what it appends: chunks
// that went to freed pages, the margin) are synced as zeros and written again by a later
// commit.

#include <cstddef>
#include <cstdint>

#include <lmdb.h>

namespace store {

class FileGrowth {
  public:
    static constexpr std::size_t k_piece = 64 * 1024;

    // `fd`: the data file of `env` (StoreEnv::data_fd); -1 turns this off.
    FileGrowth(MDB_env* env, int fd, std::uint64_t page_size);

    // Makes the file reach `bytes` (in whole pages) past the last page the environment uses,
    // writing zeros from where it ends now: never over a page in use, never past the map.
    // `txn` must be a write transaction that has written nothing yet: it holds the writer lock,
    // so no other writer appends meanwhile, and its pages come after the zeros' start. Anything
    // else (a read transaction, one that is not based on the last commit) is left alone. A
    // failed write (a full disk) gives back what this call added, so the commit's own write
    // meets the error and reports it as it would have.
    void prepare(MDB_txn* txn, std::uint64_t bytes);

    // Zeros written so far, and kept.
    std::uint64_t bytes_written() const { return m_written; }

  private:
    MDB_env* m_env;
    int m_fd;
    std::uint64_t m_page_size;
    std::uint64_t m_written = 0;
};

}  // namespace store
