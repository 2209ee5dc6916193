#pragma once
// One upstream's health as the client sees it: a circuit breaker over its answers and a budget
// for retries. Pure state behind a mutex, driven by an injected clock; no I/O.
//
// Closed: requests go. After `failures` consecutive failures (no answer, a timeout, a 5xx or
// 429) it opens: requests are refused at once, so callers answer from the store or fail fast.
// After `probe_interval` one request goes as a probe (half-open); its success closes the
// breaker, its failure opens it for another interval. Each change of state is reported once.
//
// Retries: every request earns `retry_ratio` of a retry, up to a balance of `retry_floor`
// (where the balance starts); a retry spends one. So retries stay within
// retry_ratio × recent requests + retry_floor, and a failing upstream is not hammered.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace proxy::upstream {

class Health {
  public:
    using Clock = std::chrono::steady_clock;

    struct Options {
        unsigned failures = 3;  // 0: the breaker never opens
        Clock::duration probe_interval = std::chrono::seconds(10);
        double retry_ratio = 0.2;
        double retry_floor = 10;
    };

    enum class State { closed, open, half_open };

    // What admit() decided for one request.
    enum class Admission {
        go,       // send it
        probe,    // send it as the half-open probe: once, no retries
        refused,  // the breaker is open: do not send it
    };

    struct Snapshot {
        State state = State::closed;
        std::uint64_t opened = 0;           // times the breaker opened
        std::uint64_t refused = 0;          // requests refused while open
        std::uint64_t retries = 0;          // retries the budget allowed
        std::uint64_t retries_refused = 0;  // retries the budget refused
        Clock::duration open_for{};         // while open: how long until the next probe
    };

    // `log` gets one line per change of state ("<name>: circuit open: ...", `name` being the
    // upstream's configured name).
    Health(std::string name, Options options, std::function<Clock::time_point()> now = Clock::now,
           std::function<void(std::string_view)> log = {});

    // Called once per request before it is sent.
    Admission admit();
    // The request got an answer that says the upstream works (anything but a 5xx or 429).
    void succeeded();
    // The request got no answer, timed out, or got a 5xx or 429.
    void failed();
    // Whether one more attempt of a request may be made; spends a retry if so. Never while the
    // breaker is not closed.
    bool may_retry();

    Snapshot snapshot() const;
    const std::string& name() const { return m_name; }

  private:
    void change(State to, std::string_view why);  // m_mutex held

    const std::string m_name;
    const Options m_options;
    const std::function<Clock::time_point()> m_now;
    const std::function<void(std::string_view)> m_log;

    mutable std::mutex m_mutex;
    State m_state = State::closed;
    unsigned m_consecutive = 0;
    Clock::time_point m_opened_at{};
    Clock::time_point m_probe_at{};  // when the half-open probe went
    double m_retry_balance;
    Snapshot m_counts;
};

std::string_view to_string(Health::State state);

}  // namespace proxy::upstream
