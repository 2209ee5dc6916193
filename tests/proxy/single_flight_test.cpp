#include "proxy/fetch/single_flight.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <catch2/catch.hpp>

namespace net = boost::asio;
using proxy::fetch::SingleFlight;

namespace {

// An operation that counts its runs and then waits until the test opens its gate. The io_context
// runs on this thread only, so poll() returning means every coroutine is parked.
struct GatedOp {
    int* runs;
    net::steady_timer* gate;
    std::string value;
    bool fail = false;

    net::awaitable<std::string> operator()() const {
        ++*runs;
        std::ignore = co_await gate->async_wait(net::as_tuple(net::use_awaitable));
        if (fail) throw std::runtime_error("upstream went away");
        co_return value;
    }
};

struct Caller {
    std::optional<SingleFlight<std::string>::Outcome> outcome;
    bool threw = false;
};

// One io_context run on this thread, a gate the operations wait on, and the flights under test.
struct Flights {
    net::io_context ioc;
    net::steady_timer gate{ioc, net::steady_timer::time_point::max()};
    SingleFlight<std::string> flights;
    int runs = 0;

    GatedOp op(std::string value, bool fail = false) { return {&runs, &gate, value, fail}; }

    void start(const std::string& key, GatedOp op, Caller& caller) {
        net::co_spawn(
            net::make_strand(ioc),
            [this, key, op, &caller]() -> net::awaitable<void> {
                try {
                    // A temporary key, as callers build them: run must not keep a reference.
                    auto running = flights.run(std::string(key), op);
                    caller.outcome = co_await std::move(running);
                } catch (const std::runtime_error&) {
                    caller.threw = true;
                }
            },
            net::detached);
    }

    // Completes the operations' waits on the gate now and any started later.
    void open() { gate.expires_at(net::steady_timer::time_point::min()); }
};

}  // namespace

TEST_CASE_METHOD(Flights,
                 "callers of one key while its operation runs share one run and its result",
                 "[proxy]") {
    std::vector<Caller> callers(5);
    for (auto& c : callers)
        start("manifests/app:1.0", op("manifest body"), c);
    ioc.poll();
    CHECK(runs == 1);
    CHECK(flights.running() == 1);

    open();
    ioc.run();
    CHECK(runs == 1);
    CHECK(flights.running() == 0);
    int coalesced = 0;
    for (const auto& c : callers) {
        REQUIRE(c.outcome);
        CHECK(c.outcome->value == "manifest body");
        if (c.outcome->coalesced) ++coalesced;
    }
    CHECK(coalesced == 4);
}

TEST_CASE_METHOD(Flights, "different keys and later calls each run their own operation",
                 "[proxy]") {
    Caller a, b;
    start("a", op("A"), a);
    start("b", op("B"), b);
    ioc.poll();
    CHECK(runs == 2);
    open();
    ioc.run();
    REQUIRE(a.outcome);
    REQUIRE(b.outcome);
    CHECK(a.outcome->value == "A");
    CHECK(b.outcome->value == "B");

    // The first flight is over: a new call for "a" runs again rather than reusing its result.
    ioc.restart();
    Caller again;
    start("a", op("A2"), again);
    ioc.run();
    CHECK(runs == 3);
    REQUIRE(again.outcome);
    CHECK(again.outcome->value == "A2");
    CHECK_FALSE(again.outcome->coalesced);
}

TEST_CASE_METHOD(Flights, "when the running operation throws, its waiters run their own",
                 "[proxy]") {
    Caller leader, follower;
    start("k", op("never", true), leader);
    start("k", op("own result"), follower);
    ioc.poll();
    CHECK(runs == 1);
    open();  // also for the follower's own run, which starts after this
    ioc.run();
    CHECK(leader.threw);
    CHECK_FALSE(leader.outcome);
    REQUIRE(follower.outcome);
    CHECK(runs == 2);
    CHECK(follower.outcome->value == "own result");
    CHECK_FALSE(follower.outcome->coalesced);
}
