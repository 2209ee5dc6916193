#pragma once
// Counters of the pull path, read by the admin/stats endpoint. Lock-free; relaxed ordering is
// enough since each counter is read on its own.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace proxy {

struct Counters {
    std::atomic<std::uint64_t> hits{0};       // served from the store
    std::atomic<std::uint64_t> misses{0};     // started an upstream download
    std::atomic<std::uint64_t> coalesced{0};  // joined a download or manifest fetch in flight
    std::atomic<std::uint64_t> stale{0};      // a stale tag served (upstream down, or in the
                                              // stale_while_revalidate window)
    std::atomic<std::uint64_t> negative{0};   // a tag's 404 answered from the negative cache
    std::atomic<std::uint64_t> bytes_from_cache{0};
    std::atomic<std::uint64_t> bytes_from_upstream{0};
    std::atomic<std::uint64_t> digest_mismatch{0};
    std::atomic<std::uint64_t> upstream_errors{0};
    std::atomic<std::uint64_t> store_errors{0};
};

inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
}

// Totals plus one Counters per upstream, in the order of config.upstreams.
class Metrics {
  public:
    explicit Metrics(const std::vector<std::string>& upstream_names)
        : m_names(upstream_names),
          m_upstreams(std::make_unique<Counters[]>(upstream_names.size())) {}

    Counters& total() { return m_total; }
    Counters& upstream(std::size_t index) { return m_upstreams[index]; }
    const std::vector<std::string>& upstream_names() const { return m_names; }

    // Adds `n` to `member` of the totals and of upstream `index`.
    void add(std::size_t index, std::atomic<std::uint64_t> Counters::*member, std::uint64_t n = 1) {
        bump(m_total.*member, n);
        if (index < m_names.size()) bump(m_upstreams[index].*member, n);
    }

  private:
    std::vector<std::string> m_names;
    Counters m_total;
    std::unique_ptr<Counters[]> m_upstreams;  // atomics are not movable
};

}  // namespace proxy
