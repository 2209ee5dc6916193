#include "store/allocator.hpp"

#include <malloc.h>
#include <tuple>

namespace store {

void keep_chunk_buffers_in_heap() noexcept {
#if defined(__GLIBC__)
    // Fixed values also turn off glibc's own threshold adjustment, which would otherwise settle
    // somewhere different in every run. mallopt fails only on values out of range.
    std::ignore = mallopt(M_MMAP_THRESHOLD, 8 << 20);
    std::ignore = mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

}  // namespace store
