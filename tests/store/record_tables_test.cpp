#include "store/record_tables.hpp"

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/errors.hpp"
#include "store/lmdb.hpp"
#include "store/records.hpp"
#include "store/store_env.hpp"
#include "store/write_queue.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;

namespace {

// The tables over a fresh environment, with a writer queue of their own.
struct Tables {
    TempDir dir;
    StoreEnv env;
    std::unique_ptr<WriteQueue> queue;
    std::unique_ptr<RecordTables> tables;

    Tables() : env(open()) {
        queue = std::make_unique<WriteQueue>(env.get(), 32, 8);
        tables = std::make_unique<RecordTables>(env, *queue);
    }
    ~Tables() {
        tables.reset();
        queue.reset();  // before the environment closes
    }
    StoreEnv open() {
        auto e = StoreEnv::open(options_for(dir));
        REQUIRE(e.has_value());
        return std::move(*e);
    }
    // Writes `value` under `key` directly, bypassing the encoders.
    void put_raw(MDB_dbi dbi, const std::string& key, const std::string& value) {
        lmdb::Txn txn;
        REQUIRE(txn.begin(env.get(), 0) == 0);
        MDB_val k = lmdb::val(key);
        MDB_val v = lmdb::val(value);
        REQUIRE(mdb_put(txn.get(), dbi, &k, &v, 0) == 0);
        REQUIRE(txn.commit() == 0);
    }
};

}  // namespace

TEST_CASE("a tag is replaced by a later put and listed only under its repository", "[store]") {
    Tables t;
    auto& tables = *t.tables;
    const Digest a = digest_of("a");
    const Digest b = digest_of("b");
    REQUIRE(tables.put_tag({"docker.io", "library/alpine", "3.19"}, {a, "m1", 1}));
    REQUIRE(tables.put_tag({"docker.io", "library/alpine", "3.19"}, {b, "m2", 2}));
    REQUIRE(tables.put_tag({"docker.io", "library/alpine", "3.20"}, {a, "m1", 3}));
    REQUIRE(tables.put_tag({"docker.io", "library/alpine2", "x"}, {a, "m1", 4}));
    REQUIRE(tables.put_tag({"docker.io", "library", "alpine"}, {a, "m1", 5}));
    REQUIRE(tables.put_tag({"ghcr.io", "library/alpine", "y"}, {a, "m1", 6}));
    auto tag = tables.get_tag({"docker.io", "library/alpine", "3.19"});
    REQUIRE(tag.has_value());
    REQUIRE(tag->has_value());
    CHECK((*tag)->digest == b);
    CHECK((*tag)->media_type == "m2");
    CHECK((*tag)->fetched_at == 2);
    CHECK(*tables.list_tags("docker.io", "library/alpine") ==
          std::vector<std::string>{"3.19", "3.20"});
    CHECK(*tables.list_tags("docker.io", "library") == std::vector<std::string>{"alpine"});
    CHECK(tables.list_tags("docker.io", "library/alp")->empty());
}

TEST_CASE("a tag key too long for LMDB is refused on put and missing on get", "[store]") {
    Tables t;
    const TagKey key{"docker.io", "library/alpine", std::string(t.env.max_key(), 't')};
    auto put = t.tables->put_tag(key, {digest_of("a"), "m", 1});
    REQUIRE_FALSE(put.has_value());
    CHECK(put.error() == errc::too_large);
    auto got = t.tables->get_tag(key);
    REQUIRE(got.has_value());
    CHECK_FALSE(got->has_value());
}

TEST_CASE("a stored tag or ref list that does not decode is reported corrupt", "[store]") {
    Tables t;
    t.put_raw(t.env.dbs().tags, tag_key({"u", "r", "short"}), "too short");
    auto tag = t.tables->get_tag({"u", "r", "short"});
    REQUIRE_FALSE(tag.has_value());
    CHECK(tag.error() == errc::corrupt);
    const Digest m = digest_of("m");
    t.put_raw(t.env.dbs().refs, blob_key(m), std::string(33, 'x'));
    auto refs = t.tables->get_refs(m);
    REQUIRE_FALSE(refs.has_value());
    CHECK(refs.error() == errc::corrupt);
}

TEST_CASE("refs round-trip in order, are replaced by a later put, and are empty when absent",
          "[store]") {
    Tables t;
    const Digest m = digest_of("m");
    const std::vector<Digest> first{digest_of("c"), digest_of("a"), digest_of("b")};
    REQUIRE(t.tables->put_refs(m, first));
    CHECK(*t.tables->get_refs(m) == first);
    REQUIRE(t.tables->put_refs(m, {digest_of("z")}));
    CHECK(*t.tables->get_refs(m) == std::vector<Digest>{digest_of("z")});
    REQUIRE(t.tables->put_refs(m, {}));
    CHECK(t.tables->get_refs(m)->empty());
    CHECK(t.tables->get_refs(digest_of("never"))->empty());
}

TEST_CASE("records of different tables never mix, and list by prefix with the table stripped",
          "[store]") {
    Tables t;
    auto& tables = *t.tables;
    REQUIRE(tables.put_record("envs", "a1", "1"));
    REQUIRE(tables.put_record("envs", "a2", std::string("bin\0ary", 7)));
    REQUIRE(tables.put_record("envs", "b1", "3"));
    REQUIRE(tables.put_record("envs2", "a3", "other table"));
    REQUIRE(tables.put_record("env", "sa4", "prefix of the table name"));
    auto listed = tables.list_records("envs", "a");
    REQUIRE(listed.has_value());
    CHECK(*listed == std::vector<std::pair<std::string, std::string>>{
                         {"a1", "1"}, {"a2", std::string("bin\0ary", 7)}});
    CHECK(tables.list_records("envs", "")->size() == 3);
    CHECK(tables.list_records("env", "")->size() == 1);
    CHECK(**tables.get_record("envs2", "a3") == "other table");
    CHECK_FALSE(tables.get_record("envs2", "a1")->has_value());
    REQUIRE(tables.delete_record("envs", "a1"));
    REQUIRE(tables.delete_record("envs", "a1"));  // already gone: still fine
    CHECK_FALSE(tables.get_record("envs", "a1")->has_value());
    CHECK(tables.list_records("envs", "")->size() == 2);
}

TEST_CASE("a table name with a NUL byte is refused, and an overlong record key too", "[store]") {
    Tables t;
    auto& tables = *t.tables;
    const std::string_view bad("a\0b", 3);
    CHECK(tables.put_record(bad, "k", "v").error() == errc::invalid_argument);
    CHECK(tables.get_record(bad, "k").error() == errc::invalid_argument);
    CHECK(tables.delete_record(bad, "k").error() == errc::invalid_argument);
    CHECK(tables.list_records(bad, "").error() == errc::invalid_argument);
    const std::string long_key(t.env.max_key(), 'k');
    CHECK(tables.put_record("envs", long_key, "v").error() == errc::too_large);
    CHECK_FALSE(tables.get_record("envs", long_key)->has_value());
    CHECK(tables.delete_record("envs", long_key).has_value());
}
