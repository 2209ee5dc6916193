#pragma once
// How many of the server's connection loops take connections: as few as the load needs.
//
// A loop is added when the active ones are saturated and a CPU this process may use is idle
// enough to run one more; it is dropped when the load has fit in one fewer for a while. A loop
// without a CPU of its own only adds switches between threads: on a machine whose other cores
// are taken (a load balancer, a client or another service beside envcache), two loops answer
// fewer requests than one (bench/README, the runs of `7383728`).
//
// LoopPolicy decides from what one period measured; shed_counts says how many connections
// each loop hands to another between requests, so that the active loops carry equal shares of
// the connections that are working; IdleCpus and thread_cpu_seconds measure. The server
// (server.cpp) runs them on a timer.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace proxy::server {

class LoopPolicy {
  public:
    // An active loop is saturated at this share of a CPU (the mean of the active ones).
    static constexpr double k_saturated = 0.8;
    // A loop is added only while at least this many CPUs are idle.
    static constexpr double k_idle_cpus = 0.5;
    // A loop is dropped when the active ones' busy shares add up to no more than this share of
    // one fewer loops...
    static constexpr double k_fits = 0.5;
    // ...for this many periods in a row.
    static constexpr unsigned k_quiet_periods = 10;

    // Up to `max_loops` (at least 1), starting with one active.
    explicit LoopPolicy(unsigned max_loops);

    // One period's measure: `busy` the share of a CPU each loop's thread ran (all loops, in
    // order; those past the active ones are ignored), `idle_cpus` the CPUs left idle that this
    // process may use. Returns the active loop count from now on.
    unsigned next(std::span<const double> busy, double idle_cpus);
    unsigned active() const { return m_active; }
    unsigned max_loops() const { return m_max; }

  private:
    unsigned m_max;
    unsigned m_active = 1;
    unsigned m_quiet = 0;  // periods in a row that fit in one fewer loop
};

// How many connections each loop should hand over, given each loop's count of working
// connections (those that sent a request lately) and of all its connections: a loop past the
// `active` first ones all of its own; an active loop its working ones over an equal share of
// them (rounded up). Idle connections stay where they are until they send a request.
std::vector<std::size_t> shed_counts(std::span<const std::size_t> working,
                                     std::span<const std::size_t> connections, unsigned active);

// One CPU's line of /proc/stat: its number, and its jiffies idle (idle + iowait) and in all.
struct CpuJiffies {
    unsigned cpu = 0;
    std::uint64_t idle = 0;
    std::uint64_t total = 0;
};
// The per-CPU lines of /proc/stat's text; empty when there are none or one is malformed.
std::vector<CpuJiffies> parse_proc_stat(std::string_view text);
// A cgroup v2 cpu.max: the CPUs its quota allows ("200000 100000": 2), nullopt for "max" (no
// quota) or text that is not a quota.
std::optional<double> parse_cpu_max(std::string_view text);
// The usage_usec line of a cgroup v2 cpu.stat.
std::optional<std::uint64_t> parse_cpu_usage(std::string_view text);
// The cgroup v2 path in /proc/self/cgroup's text (its "0::" line), nullopt without one.
std::optional<std::string> parse_cgroup_path(std::string_view text);

// The CPUs this process may use that were idle between two calls: the idle time of the CPUs in
// its affinity mask (/proc/stat), and no more than its cgroup's CPU quota leaves (cpu.max less
// the cgroup's usage, when the process's own cgroup has a quota; quotas of ancestors are not
// read).
class IdleCpus {
  public:
    // `cgroup_root`: where cgroup v2 is mounted.
    explicit IdleCpus(std::filesystem::path cgroup_root = "/sys/fs/cgroup");

    // Idle CPUs since the previous call; nullopt on the first call and when /proc/stat cannot
    // be read.
    std::optional<double> sample();
    // Whether the last call could read /proc/stat.
    bool readable() const { return m_readable; }

  private:
    bool m_readable = false;
    std::optional<std::filesystem::path> m_cgroup;  // the process's cgroup directory
    std::map<unsigned, CpuJiffies> m_cpus;          // at the previous call
    std::optional<std::uint64_t> m_usage;           // the cgroup's usage_usec then
    std::chrono::steady_clock::time_point m_at;
};

// The CPU time a thread has run, in seconds, through its clock (pthread_getcpuclockid); 0 when
// the clock cannot be read.
double thread_cpu_seconds(clockid_t clock);

}  // namespace proxy::server
