#pragma once
// The bytes of one chunk as a read leaves them. Unlike std::string, making room does not
// zero-fill: every byte a read keeps is written by that read, and on the hit path the fill
// cost as much as the copy itself. The allocation is kept across reads into the same buffer.

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace store {

class ChunkBuffer {
  public:
    const char* data() const { return m_data.get(); }
    char* data() { return m_data.get(); }
    std::size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }
    std::string_view view() const { return {m_data.get(), m_size}; }
    std::span<const char> span() const { return {m_data.get(), m_size}; }

    // Sets the size to `n` and returns the bytes, whose contents are unspecified until written.
    char* resize_for_overwrite(std::size_t n) {
        if (n > m_capacity) {
            m_data = std::make_unique_for_overwrite<char[]>(n);
            m_capacity = n;
        }
        m_size = n;
        return m_data.get();
    }
    void clear() { m_size = 0; }

  private:
    std::unique_ptr<char[]> m_data;
    std::size_t m_capacity = 0;
    std::size_t m_size = 0;
};

}  // namespace store
