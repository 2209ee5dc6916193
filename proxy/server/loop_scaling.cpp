#include "proxy/server/loop_scaling.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace proxy::server {

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

std::vector<std::size_t> shed_counts(std::span<const std::size_t> connections, unsigned active) {
    std::vector<std::size_t> shed(connections.size(), 0);
    const std::size_t loops = std::min<std::size_t>(std::max(1u, active), connections.size());
    std::size_t total = 0;
    for (const std::size_t count : connections)
        total += count;
    const std::size_t share = loops == 0 ? 0 : (total + loops - 1) / loops;
    for (std::size_t i = 0; i < connections.size(); ++i) {
        if (i >= loops)
            shed[i] = connections[i];
        else if (connections[i] > share)
            shed[i] = connections[i] - share;
    }
    return shed;
}

std::optional<CpuJiffies> parse_proc_stat(std::string_view text) {
    if (!text.starts_with("cpu ")) return std::nullopt;
    CpuJiffies result;
    // The totals: user nice system idle iowait irq softirq steal (guest time is within user).
    std::string_view line = text.substr(0, text.find('\n'));
    line.remove_prefix(4);
    for (int field = 0; field < 8; ++field) {
        while (!line.empty() && line.front() == ' ')
            line.remove_prefix(1);
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
        if (ec != std::errc{}) {
            if (field < 4) return std::nullopt;  // idle is the fourth: older kernels stop later
            break;
        }
        line.remove_prefix(static_cast<std::size_t>(end - line.data()));
        result.total += value;
        if (field == 3 || field == 4) result.idle += value;
    }
    for (std::size_t at = text.find("\ncpu"); at != std::string_view::npos;
         at = text.find("\ncpu", at + 1)) {
        if (at + 4 < text.size() && text[at + 4] >= '0' && text[at + 4] <= '9') ++result.cpus;
    }
    if (result.cpus == 0 || result.total == 0) return std::nullopt;
    return result;
}

std::optional<double> MachineIdle::sample() {
    std::ifstream file("/proc/stat");
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    const auto now = parse_proc_stat(text);
    if (!now) return std::nullopt;
    const bool primed = m_primed && now->total > m_total && now->idle >= m_idle;
    const double idle = primed ? static_cast<double>(now->idle - m_idle) /
                                     static_cast<double>(now->total - m_total) * now->cpus
                               : 0.0;
    m_idle = now->idle;
    m_total = now->total;
    m_primed = true;
    if (!primed) return std::nullopt;
    return idle;
}

double thread_cpu_seconds(clockid_t clock) {
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace proxy::server
