#include "store/digest.hpp"

#include <cstring>

namespace store {
namespace {

constexpr std::string_view k_prefix = "sha256:";
constexpr char k_hex[] = "0123456789abcdef";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is not canonical in OCI digests
}

}  // namespace

std::optional<Digest> Digest::parse(std::string_view text) {
    if (text.size() != k_prefix.size() + 64 || text.substr(0, k_prefix.size()) != k_prefix) {
        return std::nullopt;
    }
    text.remove_prefix(k_prefix.size());
    Digest d;
    for (std::size_t i = 0; i < d.bytes.size(); ++i) {
        const int hi = hex_value(text[2 * i]);
        const int lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        d.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return d;
}

namespace {

// Writes the 64 hex digits of `bytes` at `out`.
void write_hex(const std::array<std::uint8_t, 32>& bytes, char* out) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = k_hex[bytes[i] >> 4];
        out[2 * i + 1] = k_hex[bytes[i] & 0xf];
    }
}

}  // namespace

std::string Digest::hex() const {
    std::string out(64, '0');
    write_hex(bytes, out.data());
    return out;
}

std::string Digest::str() const {
    std::string out(k_prefix.size() + 64, '0');
    k_prefix.copy(out.data(), k_prefix.size());
    write_hex(bytes, out.data() + k_prefix.size());
    return out;
}

std::size_t DigestHash::operator()(const Digest& d) const noexcept {
    // The digest is already uniformly distributed; its first bytes are a good hash.
    std::size_t h = 0;
    std::memcpy(&h, d.bytes.data(), sizeof h);
    return h;
}

}  // namespace store
