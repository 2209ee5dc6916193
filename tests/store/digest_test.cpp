#include "store/digest.hpp"

#include <catch2/catch.hpp>

#include "store/crc32c.hpp"
#include "store/sha256.hpp"

using store::Digest;

TEST_CASE("digests parse only the canonical sha256 form and print it back", "[store]") {
    const std::string text =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    auto d = Digest::parse(text);
    REQUIRE(d.has_value());
    CHECK(d->str() == text);
    CHECK(*d == store::Sha256::of({}));
    CHECK_FALSE(Digest::parse("sha512:" + text.substr(7)));
    CHECK_FALSE(Digest::parse(text.substr(0, text.size() - 1)));
    CHECK_FALSE(Digest::parse(text + "0"));
    CHECK_FALSE(
        Digest::parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    CHECK_FALSE(
        Digest::parse("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST_CASE("crc32c matches the standard check value", "[store]") {
    const std::string check = "123456789";
    CHECK(store::crc32c(check) == 0xE3069283u);
    // Incremental use gives the same value, including across the 8-byte fast path.
    std::string long_input(1000, 'x');
    const auto whole = store::crc32c(long_input);
    const auto part = store::crc32c(std::string_view(long_input).substr(0, 333));
    CHECK(store::crc32c(std::string_view(long_input).substr(333), part) == whole);
}

TEST_CASE("crc32c gives the same value on the fast path and bytewise", "[store]") {
    // Long enough for the three-stream path (3 x 4096 bytes) plus an unaligned tail; compared
    // with the crc built up one byte at a time, which never takes the fast path.
    std::string data(3 * 4096 * 5 + 13, '\0');
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>(i * 131 + (i >> 7));
    std::uint32_t bytewise = 0;
    for (char c : data)
        bytewise = store::crc32c(std::string_view(&c, 1), bytewise);
    CHECK(store::crc32c(data) == bytewise);
    CHECK(store::crc32c(std::string_view(data).substr(1)) != bytewise);
}

TEST_CASE("crc32c_copy copies the bytes and returns their crc", "[store]") {
    for (std::size_t n :
         {std::size_t{0}, std::size_t{7}, std::size_t{3 * 4096}, std::size_t{3 * 4096 * 3 + 11}}) {
        CAPTURE(n);
        std::string src(n, '\0');
        for (std::size_t i = 0; i < n; ++i)
            src[i] = static_cast<char>(i * 7 + 3);
        std::string dst(n, 'x');
        CHECK(store::crc32c_copy(dst.data(), src) == store::crc32c(src));
        CHECK(dst == src);
    }
}

TEST_CASE("every crc32c implementation this CPU runs gives the table's values", "[store]") {
    const auto impls = store::detail::crc32c_implementations();
    INFO("implementations on this CPU: " << impls.size());
    // Lengths around every path's block sizes (8, 64, 256, 3 x 4096), at every alignment of a
    // 64-byte line, from several starting registers.
    std::string data((1 << 20) + 128, '\0');  // every length below fits at every offset
    std::uint64_t x = 0x9E3779B97F4A7C15u;
    for (auto& c : data) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
    }
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 1100; ++n)
        lengths.push_back(n);
    for (std::size_t base : {std::size_t{4096}, std::size_t{3 * 4096}, std::size_t{65536},
                             std::size_t{1048560}, std::size_t{1} << 20}) {
        for (std::size_t d = 0; d < 4; ++d)
            lengths.push_back(base - d);
        lengths.push_back(base + 1);
    }
    std::vector<std::size_t> mismatches(impls.size(), 0);
    for (std::size_t n : lengths) {
        for (std::size_t offset :
             {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{33}, std::size_t{63}}) {
            const std::span<const char> bytes(data.data() + offset, n);
            for (std::uint32_t init : {0u, 0xFFFFFFFFu, 0x12345678u}) {
                const auto expected = store::detail::crc32c_with("table", bytes, init);
                for (std::size_t i = 0; i < impls.size(); ++i) {
                    if (store::detail::crc32c_with(impls[i], bytes, init) != expected)
                        ++mismatches[i];
                }
            }
        }
    }
    for (std::size_t i = 0; i < impls.size(); ++i) {
        CAPTURE(impls[i]);
        CHECK(store::detail::crc32c_with(impls[i], std::string_view("123456789")) == 0xE3069283u);
        CHECK(mismatches[i] == 0);
    }
    // The default entry point runs the fastest of them.
    CHECK(store::crc32c(data) == store::detail::crc32c_with(impls.back(), data));
}
