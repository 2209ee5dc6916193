#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "store/blob_store.hpp"
#include "store/verify.hpp"
#include "store_test_util.hpp"

using namespace store;
using namespace store::test;

namespace {

// The child: writes an endless blob, tells the parent once some chunks are committed, and
// keeps writing until it is killed. Exits only by _exit.
[[noreturn]] void child_writes_forever(const Options& options, int ready_fd) {
    auto opened = BlobStore::open(options);
    if (!opened) _exit(10);
    auto& store = **opened;
    auto writer = store.begin(digest_of("never completes"), "application/octet-stream");
    if (!writer) _exit(11);
    const std::string piece = random_bytes(k_chunk_size, 42);
    for (int i = 0; i < 6; ++i) {
        if (!(*writer)->append(piece)) _exit(12);
    }
    if (!store.flush()) _exit(13);  // six chunks and the `writing` record are committed
    const char one = 1;
    if (write(ready_fd, &one, 1) != 1) _exit(14);
    for (;;) {
        if (!(*writer)->append(piece)) _exit(15);
    }
}

}  // namespace

TEST_CASE("a writer killed mid-blob leaves a store that opens with no partial blob", "[store]") {
    TempDir dir;
    auto options = options_for(dir);
    options.commit_every_chunks = 2;
    const std::string early1 = random_bytes(3 * k_chunk_size + 17, 1);
    const std::string early2 = text_bytes(2 * k_chunk_size, 2);
    {
        auto store = open_store(options);
        put_blob(*store, early1);
        put_blob(*store, early2);
    }  // closed before fork: an LMDB environment must not cross a fork

    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writes_forever(options, fds[1]);
    }
    close(fds[1]);
    char byte = 0;
    const auto n = read(fds[0], &byte, 1);
    close(fds[0]);
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(n == 1);  // the child reached the committed-chunks point (else it exited early)
    CHECK(WIFSIGNALED(status));

    RecoveryReport report;
    auto store = open_store(options, &report);
    CHECK(report.partial_removed == 1);
    CHECK(report.blobs == 2);
    CHECK_FALSE(store->stat(digest_of("never completes"))->has_value());
    CHECK(read_all(*store, digest_of(early1)) == early1);
    CHECK(read_all(*store, digest_of(early2)) == early2);
    auto checked = verify(*store);
    REQUIRE(checked.has_value());
    CHECK(checked->checked == 2);
    CHECK(checked->corrupt == 0);
    store.reset();
    RawEnv raw(options.path / "");
    CHECK(raw.entries("chunks") == 4 + 2);  // only the chunks of the two complete blobs
}
