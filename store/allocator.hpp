#pragma once
// Process-wide malloc settings for a program that reads and writes chunks through the store.

namespace store {

// Chunk-sized buffers (1 MiB) come and go all the time: a response's read buffer, a queued
// chunk's payload, and the LMDB dirty pages of a whole commit batch (commit_every_chunks chunks,
// freed after the commit). With glibc's defaults they are mmapped, or trimmed off the heap, and
// handed back to the kernel when freed, so the next one faults its pages in and zeroes them
// again; on a virtual machine that can cost more than the work itself. Keeps allocations up to
// 8 MiB on the heap and up to 64 MiB of freed heap per arena. Call once at start-up, before
// other threads start.
void keep_chunk_buffers_in_heap() noexcept;

}  // namespace store
