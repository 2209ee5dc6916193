#include "store/sha256.hpp"

#include <csignal>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>

#include <catch2/catch.hpp>

using store::Digest;
using store::Sha256;

namespace {

std::span<const char> bytes(std::string_view s) {
    return {s.data(), s.size()};
}

Digest parse(std::string_view hex) {
    auto d = Digest::parse("sha256:" + std::string(hex));
    REQUIRE(d.has_value());
    return *d;
}

// Runs `misuse` in a child process and returns whether it died of SIGABRT.
template <class F>
bool aborts(F misuse) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO);  // the expected message
        misuse();
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

}  // namespace

static_assert(std::is_nothrow_move_constructible_v<Sha256>);
static_assert(std::is_nothrow_move_assignable_v<Sha256>);
static_assert(!std::is_copy_constructible_v<Sha256>);

TEST_CASE("sha256 gives the FIPS 180-2 digests of the standard test vectors", "[store]") {
    CHECK(Sha256::of(bytes("abc")) ==
          parse("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(Sha256::of(bytes("")) ==
          parse("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(Sha256::of(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          parse("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const std::string million(1'000'000, 'a');
    CHECK(Sha256::of(bytes(million)) ==
          parse("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST_CASE("sha256 over pieces of any size, empty ones included, is the one-shot digest",
          "[store]") {
    const std::string million(1'000'000, 'a');
    Sha256 h;
    std::size_t at = 0;
    for (std::size_t piece = 0; at < million.size(); piece = piece * 2 + 1) {
        const std::size_t n = std::min(piece, million.size() - at);
        h.update(std::span<const char>(million.data() + at, n));
        at += n;
    }
    CHECK(h.finish() == Sha256::of(bytes(million)));
}

TEST_CASE("a sha256 moved or assigned carries its state, and a fresh one starts over", "[store]") {
    const Digest abc = Sha256::of(bytes("abc"));
    Sha256 started;
    started.update(bytes("ab"));
    Sha256 moved(std::move(started));
    moved.update(bytes("c"));
    CHECK(moved.finish() == abc);

    Sha256 reused;
    reused.update(bytes("something else"));
    reused = Sha256();  // as the fetcher does before re-hashing a spool
    reused.update(bytes("abc"));
    CHECK(reused.finish() == abc);

    reused = Sha256();  // a finished hash can be reset too
    reused.update(bytes("abc"));
    CHECK(reused.finish() == abc);
}

TEST_CASE("a moved-from or finished sha256 aborts rather than give a wrong digest", "[store]") {
    CHECK(aborts([] {
        Sha256 a;
        Sha256 b(std::move(a));
        a.update(bytes("x"));  // use after move: the misuse under test
    }));
    CHECK(aborts([] {
        Sha256 a;
        a.finish();
        a.update(bytes("x"));
    }));
    CHECK(aborts([] {
        Sha256 a;
        a.finish();
        a.finish();
    }));
    CHECK_FALSE(aborts([] { Sha256::of(bytes("fine")); }));
}
