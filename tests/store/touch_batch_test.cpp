#include "store/touch_batch.hpp"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/lmdb.hpp"
#include "store/records.hpp"
#include "store/store_env.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;
using namespace std::chrono_literals;

namespace {

const TouchBatch::Clock::time_point t0 = TouchBatch::Clock::time_point{} + 10h;

}  // namespace

TEST_CASE("the first hit queues a commit and the next ones wait for the interval", "[store]") {
    TouchBatch batch(1000ms);
    const Digest d = digest_of("d");
    CHECK(batch.record(d, 100, t0));
    CHECK_FALSE(batch.record(d, 101, t0 + 1ms));
    CHECK(batch.take().at(d).hits == 2);
    batch.done();
    CHECK_FALSE(batch.record(d, 102, t0 + 999ms));
    CHECK(batch.record(d, 103, t0 + 1000ms));
}

TEST_CASE("no second touch commit is queued while one is pending, however late", "[store]") {
    TouchBatch batch(1000ms);
    const Digest d = digest_of("d");
    CHECK(batch.record(d, 100, t0));
    CHECK_FALSE(batch.record(d, 100, t0 + 5s));
    CHECK_FALSE(batch.record(digest_of("e"), 100, t0 + 10s));
    CHECK(batch.take().size() == 2);
    batch.done();
    CHECK(batch.record(d, 100, t0 + 10s));
}

TEST_CASE("flush queues the held-back hits at once, and only when some are held back", "[store]") {
    TouchBatch batch(1000ms);
    const Digest d = digest_of("d");
    CHECK_FALSE(batch.flush_due(t0));  // nothing pending
    CHECK(batch.record(d, 100, t0));
    CHECK_FALSE(batch.flush_due(t0));  // already queued
    batch.take();
    batch.done();
    CHECK_FALSE(batch.record(d, 100, t0 + 1ms));
    CHECK(batch.flush_due(t0 + 2ms));
    CHECK_FALSE(batch.flush_due(t0 + 3ms));
    batch.take();
    batch.done();
    // The flush restarted the interval.
    CHECK_FALSE(batch.record(d, 100, t0 + 1001ms));
    batch.take();
    batch.done();
    CHECK(batch.record(d, 100, t0 + 1002ms));
}

TEST_CASE("a replayed touch commit counts each hit once and keeps the latest access", "[store]") {
    TouchBatch batch;
    const Digest d = digest_of("d");
    batch.record(d, 200, t0);
    batch.record(d, 100, t0);  // an older clock reading does not move last_access back
    batch.record(d, 150, t0);
    CHECK(batch.take().at(d).hits == 3);
    batch.record(d, 300, t0);  // arrives between the failed batch and its replay
    const auto& replayed = batch.take();
    CHECK(replayed.at(d).hits == 4);
    CHECK(replayed.at(d).last_access == 300);
    CHECK(batch.take().at(d).hits == 4);
    batch.done();
    CHECK(batch.take().empty());
}

TEST_CASE("applying touches patches complete blob records and skips the others", "[store]") {
    TempDir dir;
    auto env = StoreEnv::open(options_for(dir));
    REQUIRE(env.has_value());
    const MDB_dbi blobs = env->dbs().blobs;
    const Digest complete = digest_of("complete");
    const Digest writing = digest_of("writing");
    const Digest missing = digest_of("missing");
    BlobRecord rec;
    rec.state = BlobState::complete;
    rec.info.size = 5;
    rec.info.hits = 7;
    rec.info.last_access = 50;
    rec.info.media_type = "x";
    const std::string complete_value = encode_blob(rec);
    rec.state = BlobState::writing;
    const std::string writing_value = encode_blob(rec);
    {
        lmdb::Txn txn;
        REQUIRE(txn.begin(env->get(), 0) == 0);
        for (const auto& [d, value] :
             {std::pair{complete, complete_value}, {writing, writing_value}}) {
            const std::string key = blob_key(d);
            MDB_val k = lmdb::val(key);
            MDB_val v = lmdb::val(value);
            REQUIRE(mdb_put(txn.get(), blobs, &k, &v, 0) == 0);
        }
        REQUIRE(txn.commit() == 0);
    }
    TouchBatch batch;
    for (const Digest& d : {complete, complete, writing, missing})
        batch.record(d, 1000, t0);
    {
        lmdb::Txn txn;
        REQUIRE(txn.begin(env->get(), 0) == 0);
        REQUIRE(batch.apply(txn.get(), blobs) == 0);
        REQUIRE(txn.commit() == 0);
        batch.done();
    }
    lmdb::ReadTxn t(env->get());
    REQUIRE(t.rc == 0);
    MDB_val v;
    REQUIRE(lmdb::get(t.get(), blobs, blob_key(complete), v) == 0);
    auto patched = decode_blob(lmdb::view(v), false);
    REQUIRE(patched.has_value());
    CHECK(patched->info.hits == 9);
    CHECK(patched->info.last_access == 1000);
    CHECK(patched->info.size == 5);
    REQUIRE(lmdb::get(t.get(), blobs, blob_key(writing), v) == 0);
    CHECK(lmdb::view(v) == writing_value);
    CHECK(lmdb::get(t.get(), blobs, blob_key(missing), v) == MDB_NOTFOUND);
}
