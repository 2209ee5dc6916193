#pragma once
// The CPU priority of the store's and the cache's background threads. Work that no request
// waits for (commits, hashing and compressing downloads, hot-tier copies) can run below the
// loops that answer requests, so that under CPU contention the loops get the cores first.

namespace store {

// Adds `increment` to the calling thread's nice value (per thread on Linux), up to 19. A
// thread that cannot be lowered runs on as it was: nothing depends on it.
void lower_this_thread(int increment);

// The calling thread's nice value (0 when it cannot be read).
int this_thread_nice();

}  // namespace store
