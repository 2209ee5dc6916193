#include "store/recovery.hpp"

#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/lmdb.hpp"
#include "store/records.hpp"
#include "store/store_env.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;

namespace {

StoreEnv open_env(const Options& options) {
    auto env = StoreEnv::open(options);
    REQUIRE(env.has_value());
    return std::move(*env);
}

void put(const StoreEnv& env, MDB_dbi dbi, const std::string& key, const std::string& value) {
    lmdb::Txn txn;
    REQUIRE(txn.begin(env.get(), 0) == 0);
    MDB_val k = lmdb::val(key);
    MDB_val v = lmdb::val(value);
    REQUIRE(mdb_put(txn.get(), dbi, &k, &v, 0) == 0);
    REQUIRE(txn.commit() == 0);
}

std::size_t entries(const StoreEnv& env, MDB_dbi dbi) {
    lmdb::ReadTxn t(env.get());
    REQUIRE(t.rc == 0);
    MDB_stat st;
    REQUIRE(mdb_stat(t.get(), dbi, &st) == 0);
    return st.ms_entries;
}

std::string record(BlobState state, std::uint64_t size) {
    BlobRecord r;
    r.state = state;
    r.info.size = size;
    r.info.chunks = 1;
    r.info.media_type = "x";
    if (state == BlobState::complete) r.chunks.push_back(ChunkEntry{Codec::raw, 0});
    return encode_blob(r);
}

}  // namespace

TEST_CASE("the map is map_size, or twice max_size and at least 64 MiB, in whole 4 KiB pages",
          "[store]") {
    Options o;
    o.map_size = 1ull << 30;
    o.max_size = 5ull << 30;
    CHECK(map_size_for(o) == 1ull << 30);  // an explicit map size wins
    o.map_size = 10'000;
    CHECK(map_size_for(o) == 12'288);
    o.map_size = 0;
    CHECK(map_size_for(o) == 10ull << 30);
    o.max_size = 1ull << 20;
    CHECK(map_size_for(o) == 64ull << 20);
    o.max_size = 0;
    CHECK(map_size_for(o) == 64ull << 20);
}

TEST_CASE("opening an environment creates its directory, databases and map", "[store]") {
    TempDir dir;
    Options o;
    o.path = dir.path() / "a" / "b";
    o.max_size = 100ull << 20;
    {
        const StoreEnv env = open_env(o);
        CHECK(std::filesystem::is_directory(o.path));
        CHECK(std::filesystem::exists(o.path / "data.mdb"));
        MDB_envinfo info;
        REQUIRE(mdb_env_info(env.get(), &info) == 0);
        CHECK(info.me_mapsize == 200ull << 20);
        CHECK(env.page_size() == static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)));
        CHECK(env.data_fd() >= 0);
        CHECK(env.max_key() >= 511);
        const auto& d = env.dbs();
        CHECK(d.blobs != d.chunks);
        CHECK(d.tags != d.refs);
        CHECK(d.records != d.blobs);
        put(env, d.tags, "k", "v");
    }
    const StoreEnv again = open_env(o);
    CHECK(entries(again, again.dbs().tags) == 1);
}

TEST_CASE("recovery removes partial blobs and their chunks and counts the complete ones",
          "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    const Digest complete = digest_of("complete");
    const Digest writing = digest_of("writing");
    const Digest garbled = digest_of("garbled");
    const StoreEnv env = open_env(options);
    put(env, env.dbs().blobs, blob_key(complete), record(BlobState::complete, 10));
    put(env, env.dbs().chunks, chunk_key(complete, 0), "0123456789");
    put(env, env.dbs().blobs, blob_key(writing), record(BlobState::writing, 0));
    put(env, env.dbs().chunks, chunk_key(writing, 0), "first");
    put(env, env.dbs().chunks, chunk_key(writing, 1), "second");
    put(env, env.dbs().blobs, blob_key(garbled), "\x07 not a record");
    put(env, env.dbs().chunks, chunk_key(garbled, 0), "orphan");

    auto recovered = recover(env);
    REQUIRE(recovered.has_value());
    CHECK(recovered->report.partial_removed == 2);
    CHECK(recovered->report.blobs == 1);
    CHECK(recovered->blob_bytes == 10);
    CHECK(entries(env, env.dbs().blobs) == 1);
    CHECK(entries(env, env.dbs().chunks) == 1);

    auto again = recover(env);
    REQUIRE(again.has_value());
    CHECK(again->report.partial_removed == 0);
    CHECK(again->report.blobs == 1);
}

TEST_CASE("recovery clears the reader slot of a process that died in a read", "[store]") {
    TempDir dir;
    const auto options = options_for(dir);
    // Open first: the first process to open an environment resets its reader table, so a
    // dead reader is only found by a process that had it open all along. The child opens its
    // own environment; none crosses the fork.
    const StoreEnv env = open_env(options);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto child = StoreEnv::open(options);
        if (!child) _exit(10);
        MDB_txn* txn = nullptr;
        if (mdb_txn_begin(child->get(), nullptr, MDB_RDONLY, &txn) != 0) _exit(11);
        _exit(0);  // dies holding the reader slot
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    auto recovered = recover(env);
    REQUIRE(recovered.has_value());
    CHECK(recovered->report.stale_readers == 1);
}
