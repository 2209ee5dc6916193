#include "store/write_queue.hpp"

#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/lmdb.hpp"
#include "store/store_env.hpp"
#include "store/thread_priority.hpp"
#include "store_env_util.hpp"

using namespace store;
using namespace store::test;
using namespace std::chrono_literals;

TEST_CASE("a commit gate left in place is waited for at most its timeout", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    const auto gate = dir.write("gate", "");
    WriteQueue queue(env.get(), 32, 8, CommitHooks{0ms, gate, 50ms});
    const auto start = std::chrono::steady_clock::now();
    auto committed = std::async(std::launch::async, [&] {
        return queue.run([&](MDB_txn* txn) { return put(txn, env.dbs().tags, "k", "v"); });
    });
    REQUIRE(committed.wait_for(30s) == std::future_status::ready);
    CHECK(committed.get() == 0);
    CHECK(std::chrono::steady_clock::now() - start >= 50ms);
    CHECK(std::filesystem::exists(gate));  // committed anyway
    lmdb::ReadTxn t(env.get());
    MDB_val v;
    CHECK(lmdb::get(t.get(), env.dbs().tags, "k", v) == 0);
}

TEST_CASE("the commit delay is slept before every commit, a replayed one's too", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    WriteQueue queue(env.get(), 32, 8, CommitHooks{100ms, {}, 0ms});
    // A batch with a failing operation never reaches its commit; the replay then commits the
    // others one by one (a delay each) and aborts the failing one (none).
    std::promise<int> first;
    std::promise<int> second;
    const auto start = std::chrono::steady_clock::now();
    {
        // Hold the writer so both operations land in one batch.
        std::promise<void> release;
        auto held = release.get_future().share();
        queue.push(WriteOp{[held](MDB_txn*) {
                               held.wait();
                               return 0;
                           },
                           [](int) {}, false});
        queue.push(WriteOp{[&](MDB_txn* txn) { return put(txn, env.dbs().tags, "a", "1"); },
                           [&](int rc) { first.set_value(rc); }, false});
        queue.push(WriteOp{[](MDB_txn*) { return MDB_BAD_VALSIZE; },
                           [&](int rc) { second.set_value(rc); }, false});
        release.set_value();
    }
    auto first_done = first.get_future();
    auto second_done = second.get_future();
    REQUIRE(first_done.wait_for(30s) == std::future_status::ready);
    REQUIRE(second_done.wait_for(30s) == std::future_status::ready);
    CHECK(first_done.get() == 0);
    CHECK(second_done.get() == MDB_BAD_VALSIZE);
    // Whether the holding operation was batched alone or with the others, two commits ran.
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
}

namespace {

// A chunk operation that puts `key` in `dbi` and reports its outcome to `outcome`.
WriteOp chunk_put(MDB_dbi dbi, std::string key, std::promise<int>& outcome) {
    return WriteOp{[dbi, key](MDB_txn* txn) { return put(txn, dbi, key, "chunk"); },
                   [&outcome](int rc) { outcome.set_value(rc); }, true};
}

}  // namespace

TEST_CASE("chunks queued together are committed in one transaction with what follows them",
          "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    // A window far longer than the test: only the next operation that is not a chunk ends it.
    WriteQueue queue(env.get(), 32, 8, {}, 60s);
    std::promise<int> outcomes[3];
    for (int i = 0; i < 3; ++i)
        queue.push(chunk_put(env.dbs().tags, "chunk" + std::to_string(i), outcomes[i]));
    const auto start = std::chrono::steady_clock::now();
    CHECK(queue.run([&](MDB_txn* txn) { return put(txn, env.dbs().tags, "record", "v"); }) == 0);
    CHECK(std::chrono::steady_clock::now() - start < 30s);
    for (auto& outcome : outcomes)
        CHECK(outcome.get_future().get() == 0);
    CHECK(queue.commits() == 1);
}

TEST_CASE("chunks are committed without waiting out the window once the queue is full", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    WriteQueue queue(env.get(), 32, 2, {}, 60s);
    std::promise<int> first;
    std::promise<int> second;
    queue.push(chunk_put(env.dbs().tags, "a", first));
    queue.push(chunk_put(env.dbs().tags, "b", second));
    auto done = second.get_future();
    REQUIRE(done.wait_for(30s) == std::future_status::ready);
    CHECK(done.get() == 0);
    CHECK(first.get_future().get() == 0);
}

TEST_CASE("a lone chunk is committed once the window has passed", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    WriteQueue queue(env.get(), 32, 8, {}, 50ms);
    std::promise<int> outcome;
    queue.push(chunk_put(env.dbs().tags, "a", outcome));
    auto done = outcome.get_future();
    REQUIRE(done.wait_for(30s) == std::future_status::ready);
    CHECK(done.get() == 0);
    CHECK(queue.commits() == 1);
}

TEST_CASE("the writer thread runs its nice increment below the thread that made the queue",
          "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    const int base = this_thread_nice();
    WriteQueue lowered(env.get(), 32, 8, CommitHooks{}, k_default_gather, 5);
    int seen = -100;
    REQUIRE(lowered.run([&seen](MDB_txn*) {
        seen = this_thread_nice();
        return 0;
    }) == 0);
    CHECK(seen == std::min(base + 5, 19));
    CHECK(this_thread_nice() == base);

    WriteQueue level(env.get(), 32, 8);
    REQUIRE(level.run([&seen](MDB_txn*) {
        seen = this_thread_nice();
        return 0;
    }) == 0);
    CHECK(seen == base);
}
