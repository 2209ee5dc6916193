#include "proxy/server/loop_scaling.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sched.h>
#include <sstream>
#include <string>

namespace proxy::server {

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream file(path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

// The unsigned number at the start of `text` (after blanks), consumed from it.
std::optional<std::uint64_t> take_number(std::string_view& text) {
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{}) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return value;
}

// The rest of the first line of `text` that starts with `prefix`.
std::optional<std::string_view> line_after(std::string_view text, std::string_view prefix) {
    for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find('\n', at);
        const std::string_view line =
            text.substr(at, end == std::string_view::npos ? end : end - at);
        if (line.starts_with(prefix)) return line.substr(prefix.size());
        if (end == std::string_view::npos) break;
        at = end + 1;
    }
    return std::nullopt;
}

}  // namespace

LoopPolicy::LoopPolicy(unsigned max_loops) : m_max(std::max(1u, max_loops)) {}

unsigned LoopPolicy::next(std::span<const double> busy, double idle_cpus) {
    double sum = 0;
    for (std::size_t i = 0; i < m_active && i < busy.size(); ++i)
        sum += busy[i];
    const double mean = sum / m_active;
    if (m_active < m_max && mean >= k_saturated && idle_cpus >= k_idle_cpus) {
        ++m_active;
        m_quiet = 0;
        return m_active;
    }
    if (m_active > 1 && sum <= (m_active - 1) * k_fits) {
        if (++m_quiet >= k_quiet_periods) {
            --m_active;
            m_quiet = 0;
        }
    } else {
        m_quiet = 0;
    }
    return m_active;
}

std::vector<std::size_t> shed_counts(std::span<const std::size_t> working,
                                     std::span<const std::size_t> connections, unsigned active) {
    std::vector<std::size_t> shed(working.size(), 0);
    const std::size_t loops = std::min<std::size_t>(std::max(1u, active), working.size());
    std::size_t total = 0;  // the working connections, wherever they are now
    for (const std::size_t count : working)
        total += count;
    const std::size_t share = loops == 0 ? 0 : (total + loops - 1) / loops;
    for (std::size_t i = 0; i < working.size(); ++i) {
        if (i >= loops)
            shed[i] = i < connections.size() ? std::max(connections[i], working[i]) : working[i];
        else if (working[i] > share)
            shed[i] = working[i] - share;
    }
    return shed;
}

std::vector<CpuJiffies> parse_proc_stat(std::string_view text) {
    std::vector<CpuJiffies> cpus;
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (!line.starts_with("cpu") || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
        line.remove_prefix(3);
        CpuJiffies cpu;
        const auto number = take_number(line);
        if (!number) return {};
        cpu.cpu = static_cast<unsigned>(*number);
        // user nice system idle iowait irq softirq steal (guest time is within user); older
        // kernels stop after idle.
        for (int field = 0; field < 8; ++field) {
            const auto value = take_number(line);
            if (!value) {
                if (field < 4) return {};
                break;
            }
            cpu.total += *value;
            if (field == 3 || field == 4) cpu.idle += *value;
        }
        cpus.push_back(cpu);
    }
    return cpus;
}

std::optional<double> parse_cpu_max(std::string_view text) {
    if (text.starts_with("max")) return std::nullopt;
    const auto quota = take_number(text);
    const auto period = take_number(text);
    if (!quota || !period || *period == 0) return std::nullopt;
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<std::uint64_t> parse_cpu_usage(std::string_view text) {
    auto usage = line_after(text, "usage_usec ");
    if (!usage) return std::nullopt;
    return take_number(*usage);
}

std::optional<std::string> parse_cgroup_path(std::string_view text) {
    const auto path = line_after(text, "0::");
    if (!path || !path->starts_with('/')) return std::nullopt;
    return std::string(*path);
}

IdleCpus::IdleCpus(std::filesystem::path cgroup_root) {
    if (const auto path = parse_cgroup_path(read_text("/proc/self/cgroup")))
        m_cgroup = cgroup_root / std::filesystem::path(*path).relative_path();
}

std::optional<double> IdleCpus::sample() {
    const auto now = std::chrono::steady_clock::now();
    const auto cpus = parse_proc_stat(read_text("/proc/stat"));
    m_readable = !cpus.empty();
    if (cpus.empty()) return std::nullopt;
    cpu_set_t mask;
    bool masked = sched_getaffinity(0, sizeof mask, &mask) == 0;
    // A /proc/stat that lists none of the mask's CPUs numbers them its own way (LXCFS shows a
    // container's CPUs as cpu0..cpuN): then it lists only what this process may use.
    masked = masked && std::any_of(cpus.begin(), cpus.end(), [&mask](const CpuJiffies& cpu) {
                 return cpu.cpu < CPU_SETSIZE && CPU_ISSET(cpu.cpu, &mask);
             });
    std::uint64_t idle = 0, total = 0;
    unsigned counted = 0;
    for (const CpuJiffies& cpu : cpus) {
        if (masked && (cpu.cpu >= CPU_SETSIZE || !CPU_ISSET(cpu.cpu, &mask))) continue;
        const auto before = m_cpus.find(cpu.cpu);
        if (before == m_cpus.end() || cpu.total < before->second.total ||
            cpu.idle < before->second.idle)
            continue;
        idle += cpu.idle - before->second.idle;
        total += cpu.total - before->second.total;
        ++counted;
    }
    m_cpus.clear();
    for (const CpuJiffies& cpu : cpus)
        m_cpus[cpu.cpu] = cpu;

    std::optional<double> quota_idle;
    const double wall = std::chrono::duration<double>(now - m_at).count();
    m_at = now;
    if (m_cgroup) {
        const auto quota = parse_cpu_max(read_text(*m_cgroup / "cpu.max"));
        const auto usage = parse_cpu_usage(read_text(*m_cgroup / "cpu.stat"));
        if (quota && usage && m_usage && *usage >= *m_usage && wall > 0) {
            const double used = static_cast<double>(*usage - *m_usage) / 1e6 / wall;
            quota_idle = std::max(0.0, *quota - used);
        }
        m_usage = usage;
    }
    if (counted == 0 || total == 0) return std::nullopt;  // the first call, or no tick yet
    // Each CPU counts its own jiffies: the idle share of them, times the CPUs, is idle CPUs.
    const double host_idle =
        static_cast<double>(idle) / static_cast<double>(total) * static_cast<double>(counted);
    return quota_idle ? std::min(host_idle, *quota_idle) : host_idle;
}

double thread_cpu_seconds(clockid_t clock) {
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace proxy::server
