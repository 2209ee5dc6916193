#pragma once
// Fixed-width big-endian encoding for keys and values written to disk. Big-endian keeps
// integer keys in numeric order under LMDB's bytewise comparison.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace store {

class ByteWriter {
  public:
    explicit ByteWriter(std::string& out) : m_out(out) {}
    template <class T>
    ByteWriter& put(T v) {
        auto u = static_cast<std::make_unsigned_t<T>>(v);
        for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8) {
            m_out.push_back(static_cast<char>((u >> shift) & 0xff));
        }
        return *this;
    }
    ByteWriter& bytes(std::string_view s) {
        m_out.append(s);
        return *this;
    }

  private:
    std::string& m_out;
};

// Reads what ByteWriter wrote. Any read past the end sets failed() and yields zeros, so a
// decoder checks once at the end.
class ByteReader {
  public:
    explicit ByteReader(std::string_view in) : m_in(in) {}
    template <class T>
    T get() {
        if (m_in.size() < sizeof(T)) {
            m_failed = true;
            m_in = {};
            return T{};
        }
        std::make_unsigned_t<T> u = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            u = static_cast<std::make_unsigned_t<T>>(u << 8 | static_cast<std::uint8_t>(m_in[i]));
        }
        m_in.remove_prefix(sizeof(T));
        return static_cast<T>(u);
    }
    std::string_view bytes(std::size_t n) {
        if (m_in.size() < n) {
            m_failed = true;
            m_in = {};
            return {};
        }
        auto s = m_in.substr(0, n);
        m_in.remove_prefix(n);
        return s;
    }
    std::string_view rest() const { return m_in; }
    bool failed() const { return m_failed; }

  private:
    std::string_view m_in;
    bool m_failed = false;
};

}  // namespace store
