#include "store/verify.hpp"

#include <catch2/catch.hpp>

#include "store/blob_store.hpp"
#include "store/errors.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;

TEST_CASE("verify re-hashes every blob and removes the corrupt ones", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const std::string good = text_bytes(2 * k_chunk_size + 3, 1);
    const std::string bad = random_bytes(2 * k_chunk_size, 2);
    const std::string empty;
    {
        auto store = open_store(options);
        put_blob(*store, good);
        put_blob(*store, bad);
        put_blob(*store, empty);
    }
    {
        RawEnv raw(options.path);
        raw.flip_chunk_byte(digest_of(bad), 1, 7);
    }
    auto store = open_store(options);
    std::vector<std::pair<Digest, boost::system::error_code>> seen;
    auto report =
        verify(*store, [&](const Digest& d, const BlobInfo&, boost::system::error_code problem) {
            seen.emplace_back(d, problem);
        });
    REQUIRE(report.has_value());
    CHECK(report->checked == 3);
    CHECK(report->corrupt == 1);
    CHECK(report->removed == 1);
    CHECK(report->errors == 0);
    CHECK(report->bytes == good.size() + k_chunk_size);  // stopped at the bad chunk
    REQUIRE(seen.size() == 3);
    for (const auto& [d, problem] : seen) {
        if (d == digest_of(bad)) {
            CHECK(problem == errc::corrupt);
        } else {
            CHECK(!problem);
        }
    }
    CHECK_FALSE(store->stat(digest_of(bad))->has_value());
    CHECK(read_all(*store, digest_of(good)) == good);

    auto again = verify(*store);
    REQUIRE(again.has_value());
    CHECK(again->checked == 2);
    CHECK(again->corrupt == 0);
}
