// LoopPolicy, shed_counts and the /proc/stat reader: a loop is added only while the active
// ones are saturated and a CPU is idle, dropped only after the load fit in fewer for a while;
// connections are handed over until the active loops carry equal shares.

#include "proxy/server/loop_scaling.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using proxy::server::LoopPolicy;

namespace {

// Runs `periods` periods of the same measure; returns the active count after them.
unsigned run(LoopPolicy& policy, std::vector<double> busy, double idle, unsigned periods) {
    unsigned active = policy.active();
    for (unsigned i = 0; i < periods; ++i)
        active = policy.next(busy, idle);
    return active;
}

}  // namespace

TEST_CASE("loop policy: one loop while it is not saturated", "[loops]") {
    LoopPolicy policy(4);
    CHECK(policy.active() == 1);
    CHECK(run(policy, {0.7, 0, 0, 0}, 3.0, 20) == 1);
}

TEST_CASE("loop policy: a saturated loop gets another only while a CPU is idle", "[loops]") {
    LoopPolicy policy(4);
    // The other cores are taken (a load generator, a balancer): no loop is added.
    CHECK(run(policy, {0.98, 0, 0, 0}, 0.3, 20) == 1);
    // A CPU idle: one more per period, while the active ones stay saturated on average.
    CHECK(policy.next(std::vector<double>{0.98, 0, 0, 0}, 2.5) == 2);
    // The new loop has no connections yet: the mean is under the mark, none is added.
    CHECK(policy.next(std::vector<double>{0.95, 0.1, 0, 0}, 2.0) == 2);
    CHECK(policy.next(std::vector<double>{0.9, 0.85, 0, 0}, 1.0) == 3);
    // Never past the maximum.
    CHECK(run(policy, {1, 1, 1, 1}, 1.0, 5) == 4);
    CHECK(policy.max_loops() == 4);
}

TEST_CASE("loop policy: a loop is dropped after the load fit in fewer for a while", "[loops]") {
    LoopPolicy policy(2);
    REQUIRE(policy.next(std::vector<double>{0.9, 0}, 1.0) == 2);
    // 1.2 CPUs of load does not fit in one loop at half use: both stay.
    CHECK(run(policy, {0.6, 0.6}, 0.5, 30) == 2);
    // 0.4 does, but only after k_quiet_periods in a row.
    CHECK(run(policy, {0.2, 0.2}, 1.5, LoopPolicy::k_quiet_periods - 1) == 2);
    CHECK(policy.next(std::vector<double>{0.2, 0.2}, 1.5) == 1);
    // A busy period in between starts the count again.
    REQUIRE(policy.next(std::vector<double>{0.9, 0}, 1.0) == 2);
    run(policy, {0.2, 0.2}, 1.5, LoopPolicy::k_quiet_periods - 1);
    policy.next(std::vector<double>{0.6, 0.6}, 0.5);
    CHECK(run(policy, {0.2, 0.2}, 1.5, LoopPolicy::k_quiet_periods - 1) == 2);
    // Never below one.
    CHECK(run(policy, {0, 0}, 2.0, 100) == 1);
}

TEST_CASE("loop policy: a maximum of one or zero loops is one", "[loops]") {
    LoopPolicy one(1);
    CHECK(run(one, {1.0}, 4.0, 5) == 1);
    LoopPolicy zero(0);
    CHECK(zero.max_loops() == 1);
}

TEST_CASE("shed counts: loops past the active ones hand over all, active ones their excess",
          "[loops]") {
    using proxy::server::shed_counts;
    const std::array<std::size_t, 3> spread{4, 3, 5};
    CHECK(shed_counts(spread, 1) == std::vector<std::size_t>{0, 3, 5});
    CHECK(shed_counts(spread, 2) == std::vector<std::size_t>{0, 0, 5});
    // Twelve over three: four each; loop 2 has one over.
    CHECK(shed_counts(spread, 3) == std::vector<std::size_t>{0, 0, 1});
    const std::array<std::size_t, 2> one_sided{8, 0};
    CHECK(shed_counts(one_sided, 2) == std::vector<std::size_t>{4, 0});
    // Seven over two rounds the share up: no loop sheds for want of half a connection.
    const std::array<std::size_t, 2> odd{4, 3};
    CHECK(shed_counts(odd, 2) == std::vector<std::size_t>{0, 0});
    CHECK(shed_counts(odd, 0) == std::vector<std::size_t>{0, 3});  // at least one active
}

TEST_CASE("proc stat: idle and total jiffies over all CPUs, and the CPU count", "[loops]") {
    const std::string text =
        "cpu  100 5 50 1000 20 3 7 15 0 0\n"
        "cpu0 50 2 25 500 10 1 3 7 0 0\n"
        "cpu1 50 3 25 500 10 2 4 8 0 0\n"
        "intr 12345 0 0\n"
        "ctxt 999\n";
    const auto stat = proxy::server::parse_proc_stat(text);
    REQUIRE(stat);
    CHECK(stat->idle == 1020);                                    // idle + iowait
    CHECK(stat->total == 100 + 5 + 50 + 1000 + 20 + 3 + 7 + 15);  // guest time is within user
    CHECK(stat->cpus == 2);
    // An old kernel's four fields are enough.
    const auto old = proxy::server::parse_proc_stat("cpu  1 2 3 4\ncpu0 1 2 3 4\n");
    REQUIRE(old);
    CHECK(old->idle == 4);
    CHECK(old->total == 10);
    CHECK_FALSE(proxy::server::parse_proc_stat(""));
    CHECK_FALSE(proxy::server::parse_proc_stat("intr 1 2\n"));
    CHECK_FALSE(proxy::server::parse_proc_stat("cpu  1 2 x\ncpu0 1\n"));
    CHECK_FALSE(proxy::server::parse_proc_stat("cpu  1 2 3 4\n"));  // no CPU lines
}

TEST_CASE("machine idle: nothing on the first sample, then CPUs within the machine's", "[loops]") {
    proxy::server::MachineIdle idle;
    CHECK_FALSE(idle.sample());
    // /proc/stat moves in clock ticks: wait (boundedly) until it has.
    std::optional<double> cpus;
    for (int i = 0; i < 200 && !cpus; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cpus = idle.sample();
    }
    REQUIRE(cpus);
    CHECK(*cpus >= 0.0);
    CHECK(*cpus <= static_cast<double>(std::thread::hardware_concurrency()) + 0.01);
}
