#pragma once
// Process-wide malloc settings for a program that writes through the store.

namespace store {

// The writer thread allocates LMDB's dirty pages for a whole commit batch (commit_every_chunks
// chunks of 1 MiB) and frees them after the commit. By default glibc hands that memory back to
// the kernel each time (an munmap, or trimming the heap) and the next batch faults it in and
// zeroes it again, which on a virtual machine can cost more than the write itself. Keeps
// allocations up to 32 MiB on the heap and up to 64 MiB of freed heap per arena. Call once at
// start-up, before other threads start.
void keep_freed_write_buffers() noexcept;

}  // namespace store
