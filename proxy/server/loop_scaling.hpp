#pragma once
// How many of the server's connection loops take connections: as few as the load needs.
//
// A loop is added when the active ones are saturated and the machine has a CPU idle to run
// one more; it is dropped when the load has fit in one fewer for a while. A loop without a CPU
// of its own only adds switches between threads: on a machine whose other cores are taken (a
// load balancer, a client or another service beside envcache), two loops answer fewer requests
// than one (bench/README, the runs of `<this change>`).
//
// LoopPolicy decides from what one period measured; shed_counts says how many connections
// each loop hands to another between requests, so that the active loops carry equal shares;
// CpuTimes measures. The server (server.cpp) runs them on a timer.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace proxy::server {

class LoopPolicy {
  public:
    // An active loop is saturated at this share of a CPU (the mean of the active ones).
    static constexpr double k_saturated = 0.8;
    // A loop is added only while the machine leaves at least this many CPUs idle.
    static constexpr double k_idle_cpus = 0.5;
    // A loop is dropped when the active ones' busy shares add up to no more than this share of
    // one fewer loops...
    static constexpr double k_fits = 0.5;
    // ...for this many periods in a row.
    static constexpr unsigned k_quiet_periods = 10;

    // Up to `max_loops` (at least 1), starting with one active.
    explicit LoopPolicy(unsigned max_loops);

    // One period's measure: `busy` the share of a CPU each loop's thread ran (all loops, in
    // order; those past the active ones are ignored), `idle_cpus` the CPUs the machine left
    // idle. Returns the active loop count from now on.
    unsigned next(std::span<const double> busy, double idle_cpus);
    unsigned active() const { return m_active; }
    unsigned max_loops() const { return m_max; }

  private:
    unsigned m_max;
    unsigned m_active = 1;
    unsigned m_quiet = 0;  // periods in a row that fit in one fewer loop
};

// How many connections each loop should hand over, given each loop's connection count: a loop
// past the `active` first ones all of its own; an active loop those over an equal share
// (rounded up).
std::vector<std::size_t> shed_counts(std::span<const std::size_t> connections, unsigned active);

// The machine's idle CPUs over the time between two calls, from /proc/stat.
class MachineIdle {
  public:
    // CPUs idle since the previous call; nullopt on the first call and when /proc/stat
    // cannot be read.
    std::optional<double> sample();

  private:
    std::uint64_t m_idle = 0;   // jiffies idle or waiting on I/O, all CPUs
    std::uint64_t m_total = 0;  // jiffies of every kind, all CPUs
    bool m_primed = false;
};

// The CPU time a thread has run, in seconds, through its clock (pthread_getcpuclockid); 0 when
// the clock cannot be read.
double thread_cpu_seconds(clockid_t clock);

// Parses /proc/stat's text: jiffies idle (idle + iowait) and in all, summed over CPUs, and the
// count of CPUs. nullopt when its first line is not the "cpu" totals.
struct CpuJiffies {
    std::uint64_t idle = 0;
    std::uint64_t total = 0;
    unsigned cpus = 0;
};
std::optional<CpuJiffies> parse_proc_stat(std::string_view text);

}  // namespace proxy::server
