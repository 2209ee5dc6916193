#include "proxy/upstream/health.hpp"

#include <algorithm>
#include <utility>

namespace proxy::upstream {

std::string_view to_string(Health::State state) {
    switch (state) {
        case Health::State::closed:
            return "closed";
        case Health::State::open:
            return "open";
        case Health::State::half_open:
            return "half_open";
    }
    return "closed";
}

Health::Health(std::string name, Options options, std::function<Clock::time_point()> now,
               std::function<void(std::string_view)> log)
    : m_name(std::move(name)),
      m_options(options),
      m_now(std::move(now)),
      m_log(std::move(log)),
      m_retry_balance(options.retry_floor) {}

void Health::change(State to, std::string_view why) {
    m_state = to;
    if (to == State::open) {
        m_opened_at = m_now();
        ++m_counts.opened;
    }
    if (m_log) m_log(m_name + ": circuit " + std::string(to_string(to)) + ": " + std::string(why));
}

Health::Admission Health::admit() {
    const std::lock_guard lock(m_mutex);
    if (m_state == State::closed || m_options.failures == 0) {
        m_retry_balance = std::min(m_retry_balance + m_options.retry_ratio, m_options.retry_floor);
        return Admission::go;
    }
    const auto now = m_now();
    // A probe whose answer never came (its caller went away) is replaced after an interval.
    const bool probe_due = m_state == State::open ? now - m_opened_at >= m_options.probe_interval
                                                  : now - m_probe_at >= m_options.probe_interval;
    if (!probe_due) {
        ++m_counts.refused;
        return Admission::refused;
    }
    if (m_state == State::open) change(State::half_open, "one request goes as a probe");
    m_probe_at = now;
    return Admission::probe;
}

void Health::succeeded() {
    const std::lock_guard lock(m_mutex);
    m_consecutive = 0;
    if (m_state != State::closed) change(State::closed, "the upstream answers again");
}

void Health::failed() {
    const std::lock_guard lock(m_mutex);
    if (m_options.failures == 0) return;
    switch (m_state) {
        case State::closed:
            if (++m_consecutive >= m_options.failures) {
                m_consecutive = 0;
                const auto seconds =
                    std::chrono::duration_cast<std::chrono::seconds>(m_options.probe_interval);
                change(State::open, std::to_string(m_options.failures) +
                                        " consecutive failures; requests fail fast, next probe "
                                        "in " +
                                        std::to_string(seconds.count()) + " s");
            }
            break;
        case State::half_open:
            change(State::open, "the probe failed");
            break;
        case State::open:
            break;  // a request sent before the breaker opened
    }
}

bool Health::may_retry() {
    const std::lock_guard lock(m_mutex);
    if (m_state != State::closed || m_retry_balance < 1) {
        ++m_counts.retries_refused;
        return false;
    }
    m_retry_balance -= 1;
    ++m_counts.retries;
    return true;
}

Health::Snapshot Health::snapshot() const {
    const std::lock_guard lock(m_mutex);
    Snapshot s = m_counts;
    s.state = m_state;
    if (m_state == State::open)
        s.open_for =
            std::max(Clock::duration::zero(), m_opened_at + m_options.probe_interval - m_now());
    return s;
}

}  // namespace proxy::upstream
