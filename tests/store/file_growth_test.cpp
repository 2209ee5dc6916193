// The data file grown ahead of a commit: zeros after the pages in use, never over them, and a
// store whose file was grown reads and reopens as before.

#include "store/file_growth.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "store/lmdb.hpp"
#include "store/store_env.hpp"
#include "store/write_queue.hpp"
#include "store_env_util.hpp"

using namespace store;
using namespace store::test;

namespace {

// Commits key -> value in the chunks table.
void commit_value(const StoreEnv& env, const std::string& key, const std::string& value) {
    lmdb::Txn txn;
    REQUIRE(txn.begin(env.get(), 0) == 0);
    REQUIRE(put(txn.get(), env.dbs().chunks, key, value) == 0);
    REQUIRE(txn.commit() == 0);
}

std::string read_value(const StoreEnv& env, const std::string& key) {
    lmdb::ReadTxn t(env.get());
    MDB_val v;
    REQUIRE(lmdb::get(t.get(), env.dbs().chunks, key, v) == 0);
    return std::string(lmdb::view(v));
}

// prepare() inside a write transaction of its own, which then ends without writing.
void grow(const StoreEnv& env, FileGrowth& growth, std::uint64_t bytes) {
    lmdb::Txn txn;
    REQUIRE(txn.begin(env.get(), 0) == 0);
    growth.prepare(txn.get(), bytes);
}

// Bytes of the environment's pages in use.
std::uint64_t used_bytes(const StoreEnv& env) {
    MDB_envinfo info;
    REQUIRE(mdb_env_info(env.get(), &info) == 0);
    return (std::uint64_t{info.me_last_pgno} + 1) * env.page_size();
}

std::uint64_t file_size(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return static_cast<std::uint64_t>(st.st_size);
}

std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A store with one committed value, its data file's size then, and a growth of that file.
struct OneValue {
    TempDir dir;
    StoreEnv env = open_env(dir);
    std::uint64_t size = 0;
    FileGrowth growth{env.get(), env.data_fd(), env.page_size()};
    OneValue() {
        commit_value(env, "first", random_bytes(300 * 1024, 1));
        size = file_size(env.data_fd());
    }
};

// Limits the size of files this process writes (RLIMIT_FSIZE), with SIGXFSZ ignored, so a
// write past the limit fails with EFBIG; both are restored when it goes.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(std::uint64_t bytes) : m_handler(std::signal(SIGXFSZ, SIG_IGN)) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &m_before) == 0);
        struct rlimit limited = m_before;
        limited.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    }
    ~FileSizeLimit() {
        CHECK(::setrlimit(RLIMIT_FSIZE, &m_before) == 0);  // CHECK: a destructor must not throw
        std::signal(SIGXFSZ, m_handler);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  private:
    void (*m_handler)(int);
    struct rlimit m_before {};
};

}  // namespace

TEST_CASE("the data file grows by zeros after the pages in use and never over them", "[store]") {
    TempDir dir;
    const std::string first = random_bytes(300 * 1024, 1);
    const std::string second = random_bytes(700 * 1024, 2);
    {
        const StoreEnv env = open_env(dir);
        commit_value(env, "first", first);
        const std::uint64_t used = used_bytes(env);
        REQUIRE(file_size(env.data_fd()) == used);
        const std::string before = file_bytes(dir.path() / "store" / "data.mdb");

        FileGrowth growth(env.get(), env.data_fd(), env.page_size());
        grow(env, growth, 1024 * 1024 + 5);  // rounded up to whole pages
        const std::uint64_t grown = used + 1024 * 1024 + env.page_size();
        CHECK(file_size(env.data_fd()) == grown);
        CHECK(growth.bytes_written() == grown - used);
        const std::string after = file_bytes(dir.path() / "store" / "data.mdb");
        CHECK(after.substr(0, used) == before);
        CHECK(after.find_first_not_of('\0', used) == std::string::npos);

        // Already there: nothing more is written.
        grow(env, growth, 1024 * 1024);
        CHECK(growth.bytes_written() == grown - used);

        // The next commit writes into the grown part.
        commit_value(env, "second", second);
        CHECK(read_value(env, "first") == first);
        CHECK(read_value(env, "second") == second);
    }
    // A file longer than its pages in use opens as before.
    const StoreEnv env = open_env(dir);
    CHECK(read_value(env, "first") == first);
    CHECK(read_value(env, "second") == second);
}

TEST_CASE("the data file never grows past the map", "[store]") {
    TempDir dir;
    auto options = options_for(dir);
    options.map_size = 8ull << 20;
    auto opened = StoreEnv::open(options);
    REQUIRE(opened.has_value());
    const StoreEnv& env = *opened;
    FileGrowth growth(env.get(), env.data_fd(), env.page_size());
    grow(env, growth, 64ull << 20);
    CHECK(file_size(env.data_fd()) == 8ull << 20);
}

TEST_CASE("the data file is not grown outside a write transaction on the last commit", "[store]") {
    OneValue store;
    store.growth.prepare(nullptr, 1024 * 1024);
    lmdb::ReadTxn reading(store.env.get());
    REQUIRE(reading.rc == 0);
    store.growth.prepare(reading.get(), 1024 * 1024);
    CHECK(store.growth.bytes_written() == 0);
    CHECK(file_size(store.env.data_fd()) == store.size);
}

TEST_CASE("a failed write gives back what growing the data file had added", "[store]") {
    OneValue store;
    {
        // Writes past size + 128 KiB fail (EFBIG, as ENOSPC would): the first two pieces
        // are written, the third fails.
        const FileSizeLimit limit(store.size + 2 * FileGrowth::k_piece);
        grow(store.env, store.growth, 1024 * 1024);
    }
    CHECK(store.growth.bytes_written() == 0);
    CHECK(file_size(store.env.data_fd()) == store.size);
    grow(store.env, store.growth, 1024 * 1024);  // room again
    CHECK(file_size(store.env.data_fd()) > store.size);
}

TEST_CASE("a batch's new pages are in the data file before its operations write", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    const std::uint64_t used = used_bytes(env);
    std::uint64_t size_seen = 0;
    {
        WriteQueue queue(env.get(), 32, 8, {}, std::chrono::milliseconds(0), 0,
                         FileGrowth(env.get(), env.data_fd(), env.page_size()));
        const std::string value = random_bytes(2 * 1024 * 1024, 3);
        std::promise<int> done;
        queue.push(WriteOp{[&](MDB_txn* txn) {
                               size_seen = file_size(env.data_fd());
                               return put(txn, env.dbs().chunks, "big", value);
                           },
                           [&](int rc) { done.set_value(rc); }, true, value.size()});
        REQUIRE(done.get_future().get() == 0);
    }
    CHECK(size_seen >= used + 2 * 1024 * 1024);
    CHECK(read_value(env, "big").size() == 2 * 1024 * 1024);
}
