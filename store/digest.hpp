#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace store {

// A sha256 content digest. Only sha256 is stored; other algorithms are rejected at the API.
struct Digest {
    std::array<std::uint8_t, 32> bytes{};

    // Parses "sha256:<64 lowercase hex>"; anything else is std::nullopt.
    static std::optional<Digest> parse(std::string_view text);
    // "sha256:<64 lowercase hex>".
    std::string str() const;
    std::string hex() const;

    friend bool operator==(const Digest&, const Digest&) = default;
    friend auto operator<=>(const Digest&, const Digest&) = default;
};

struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
};

}  // namespace store
