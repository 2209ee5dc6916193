#include "cache/membership_records.hpp"

#include <catch2/catch.hpp>

#include "tests/cache/evictor_test_util.hpp"

using namespace cache;
using namespace cache::test;

namespace {

store::Digest digest_of(char c) {
    return *store::Digest::parse("sha256:" + std::string(64, c));
}

bool member(store::BlobStore& store, const MemberKey& key) {
    const auto found = is_member(store, key);
    REQUIRE(found);
    return *found;
}

bool guarded(store::BlobStore& store, const store::Digest& digest) {
    const auto found = is_guarded(store, digest);
    REQUIRE(found);
    return *found;
}

}  // namespace

TEST_CASE("a member of a repository stays one, and guarded, after the store reopens",
          "[membership]") {
    EvictorFixture f;
    const auto layer = digest_of('b');
    REQUIRE(ok(put_member(f.store(), {layer, "private", "team/app"})));
    REQUIRE(ok(put_member(f.store(), {layer, "private", "team/app"})));  // again: no error

    f.reopen();

    CHECK(member(f.store(), {layer, "private", "team/app"}));
    CHECK(guarded(f.store(), layer));
}

TEST_CASE("membership is per upstream name and repository, exactly", "[membership]") {
    EvictorFixture f;
    const auto layer = digest_of('b');
    REQUIRE(ok(put_member(f.store(), {layer, "private", "team/app"})));

    CHECK_FALSE(member(f.store(), {layer, "private", "team/ap"}));
    CHECK_FALSE(member(f.store(), {layer, "private", "team/app2"}));
    CHECK_FALSE(member(f.store(), {layer, "shared", "team/app"}));
    CHECK_FALSE(member(f.store(), {layer, "priv", "ate team/app"}));
    CHECK_FALSE(member(f.store(), {digest_of('c'), "private", "team/app"}));
}

TEST_CASE("only a digest with a membership row is guarded", "[membership]") {
    EvictorFixture f;
    REQUIRE(ok(put_member(f.store(), {digest_of('b'), "private", "team/app"})));
    CHECK(guarded(f.store(), digest_of('b')));
    CHECK_FALSE(guarded(f.store(), digest_of('a')));
    CHECK_FALSE(guarded(f.store(), digest_of('c')));
    // Rows in other tables under the same key are not membership.
    REQUIRE(ok(f.store().put_record("referrers", digest_of('d').str() + " private team/app", "x")));
    CHECK_FALSE(guarded(f.store(), digest_of('d')));
}
