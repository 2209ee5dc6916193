// LoopPolicy, shed_counts and the readers of /proc/stat and cgroup files: a loop is added only
// while the active ones are saturated and a CPU is idle, dropped only after the load fit in fewer
// for a while; connections are handed over until the active loops carry equal shares.

#include "proxy/server/loop_scaling.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sched.h>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/common/temp_dir.hpp"

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

TEST_CASE(
    "shed counts: loops past the active ones hand over all, active ones their excess of "
    "working connections",
    "[loops]") {
    using proxy::server::shed_counts;
    using Counts = std::vector<std::size_t>;
    // Every connection working.
    const Counts spread{4, 3, 5};
    CHECK(shed_counts(spread, spread, 1) == Counts{0, 3, 5});
    CHECK(shed_counts(spread, spread, 2) == Counts{0, 0, 5});
    // Twelve over three: four each; loop 2 has one over.
    CHECK(shed_counts(spread, spread, 3) == Counts{0, 0, 1});
    const Counts one_sided{8, 0};
    CHECK(shed_counts(one_sided, one_sided, 2) == Counts{4, 0});
    // Seven over two rounds the share up: no loop sheds for want of half a connection.
    const Counts odd{4, 3};
    CHECK(shed_counts(odd, odd, 2) == Counts{0, 0});
    CHECK(shed_counts(odd, odd, 0) == Counts{0, 3});  // at least one active
    // Ten idle and two working on loop 0: one of the two working ones moves, not six.
    CHECK(shed_counts(Counts{2, 0}, Counts{12, 0}, 2) == Counts{1, 0});
    // A loop no longer active hands over its idle connections too.
    CHECK(shed_counts(Counts{1, 0}, Counts{1, 3}, 1) == Counts{0, 3});
}

TEST_CASE("proc stat: each CPU's idle and total jiffies", "[loops]") {
    const std::string text =
        "cpu  100 5 50 1000 20 3 7 15 0 0\n"
        "cpu0 50 2 25 500 10 1 3 7 0 0\n"
        "cpu3 50 3 25 500 10 2 4 8 0 0\n"
        "intr 12345 0 0\n"
        "ctxt 999\n";
    const auto cpus = proxy::server::parse_proc_stat(text);
    REQUIRE(cpus.size() == 2);
    CHECK(cpus[0].cpu == 0);
    CHECK(cpus[0].idle == 510);                                  // idle + iowait
    CHECK(cpus[0].total == 50 + 2 + 25 + 500 + 10 + 1 + 3 + 7);  // guest time is within user
    CHECK(cpus[1].cpu == 3);  // the numbers of the CPUs online, not their places
    CHECK(cpus[1].idle == 510);
    // An old kernel's four fields are enough.
    const auto old = proxy::server::parse_proc_stat("cpu  1 2 3 4\ncpu0 1 2 3 4\n");
    REQUIRE(old.size() == 1);
    CHECK(old[0].idle == 4);
    CHECK(old[0].total == 10);
    CHECK(proxy::server::parse_proc_stat("").empty());
    CHECK(proxy::server::parse_proc_stat("intr 1 2\n").empty());
    CHECK(proxy::server::parse_proc_stat("cpu  1 2 3 4\ncpu0 1 2 x\n").empty());
    CHECK(proxy::server::parse_proc_stat("cpu  1 2 3 4\n").empty());  // no CPU lines
}

TEST_CASE("cgroup files: the quota in CPUs, the usage, the process's cgroup", "[loops]") {
    using namespace proxy::server;
    CHECK(parse_cpu_max("200000 100000\n") == 2.0);
    CHECK(parse_cpu_max("50000 100000\n") == 0.5);
    CHECK_FALSE(parse_cpu_max("max 100000\n"));
    CHECK_FALSE(parse_cpu_max(""));
    CHECK_FALSE(parse_cpu_max("100 0\n"));
    CHECK(parse_cpu_usage("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n") == 123456u);
    CHECK(parse_cpu_usage("nr_periods 4\nusage_usec 7\n") == 7u);
    CHECK_FALSE(parse_cpu_usage("user_usec 1\n"));
    CHECK(parse_cgroup_path("0::/system.slice/envcache.service\n") ==
          "/system.slice/envcache.service");
    CHECK(parse_cgroup_path("12:cpu:/old\n0::/\n") == "/");
    CHECK_FALSE(parse_cgroup_path("12:cpu,cpuacct:/v1-only\n"));
}

TEST_CASE("idle CPUs: nothing on the first sample, then no more than this process may use",
          "[loops]") {
    proxy::server::IdleCpus idle;
    CHECK_FALSE(idle.sample());
    // /proc/stat moves in clock ticks: wait (boundedly) until it has.
    std::optional<double> cpus;
    for (int i = 0; i < 200 && !cpus; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cpus = idle.sample();
    }
    REQUIRE(cpus);
    CHECK(*cpus >= 0.0);
    CHECK(idle.readable());
    cpu_set_t mask;
    REQUIRE(sched_getaffinity(0, sizeof mask, &mask) == 0);
    CHECK(*cpus <= static_cast<double>(CPU_COUNT(&mask)) + 0.01);
}

TEST_CASE("idle CPUs: no more than the process's cgroup quota leaves", "[loops]") {
    using namespace proxy::server;
    std::ifstream own("/proc/self/cgroup");
    const std::string text((std::istreambuf_iterator<char>(own)), std::istreambuf_iterator<char>());
    const auto path = parse_cgroup_path(text);
    REQUIRE(path);  // Debian 12 has the cgroup v2 line, hybrid or not
    // A cgroup tree of the test's own, where the process's cgroup may use half a CPU.
    test_util::TempDir root;
    const std::string dir = std::filesystem::path(*path).relative_path().string();
    const auto at = [&dir](const std::string& name) {
        return dir.empty() ? name : dir + "/" + name;
    };
    root.write(at("cpu.max"), "50000 100000\n");
    std::uint64_t usage = 0;
    root.write(at("cpu.stat"), "usage_usec 0\n");
    IdleCpus idle(root.path());
    REQUIRE_FALSE(idle.sample());
    // /proc/stat moves in clock ticks: sample (boundedly) until it has.
    const auto next = [&](std::uint64_t used_usec) {
        std::optional<double> cpus;
        for (int i = 0; i < 200 && !cpus; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            usage += used_usec;
            root.write(at("cpu.stat"), "usage_usec " + std::to_string(usage) + "\n");
            cpus = idle.sample();
        }
        return cpus;
    };
    // Nothing used: at most the half CPU.
    const auto quiet = next(0);
    REQUIRE(quiet);
    CHECK(*quiet <= 0.5 + 1e-9);
    // The cgroup used far more than its quota in the period: nothing idle.
    const auto spent = next(1'000'000'000);
    REQUIRE(spent);
    CHECK(*spent == 0.0);
}
