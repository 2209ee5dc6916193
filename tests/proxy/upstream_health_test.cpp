#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "proxy/upstream/health.hpp"

using proxy::upstream::Health;
using namespace std::chrono_literals;

namespace {

// A clock the test moves by hand, and the lines the breaker logs.
struct Harness {
    Health::Clock::time_point now{};
    std::vector<std::string> lines;

    Health health(Health::Options options = {}) {
        return Health(
            "registry.test", options, [this] { return now; },
            [this](std::string_view line) { lines.emplace_back(line); });
    }
};

void fail(Health& health, unsigned times) {
    for (unsigned i = 0; i < times; ++i) {
        REQUIRE(health.admit() == Health::Admission::go);
        health.failed();
    }
}

}  // namespace

TEST_CASE("the breaker opens after the configured consecutive failures and refuses at once",
          "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 3, .probe_interval = 10s});
    fail(health, 2);
    CHECK(health.snapshot().state == Health::State::closed);
    fail(health, 1);
    CHECK(health.snapshot().state == Health::State::open);
    CHECK(health.snapshot().opened == 1);
    CHECK(health.admit() == Health::Admission::refused);
    CHECK(health.admit() == Health::Admission::refused);
    CHECK(health.snapshot().refused == 2);
    CHECK(health.snapshot().open_for == 10s);
    REQUIRE(h.lines.size() == 1);
    CHECK(h.lines[0].find("registry.test: circuit open") != std::string::npos);
}

TEST_CASE("a success between failures keeps the breaker closed", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 3});
    fail(health, 2);
    REQUIRE(health.admit() == Health::Admission::go);
    health.succeeded();
    fail(health, 2);
    CHECK(health.snapshot().state == Health::State::closed);
    CHECK(h.lines.empty());
}

TEST_CASE("after the probe interval one request probes; its success closes the breaker",
          "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 1, .probe_interval = 10s});
    fail(health, 1);
    h.now += 9s;
    CHECK(health.admit() == Health::Admission::refused);
    h.now += 1s;
    CHECK(health.admit() == Health::Admission::probe);
    CHECK(health.snapshot().state == Health::State::half_open);
    // Only one probe at a time.
    CHECK(health.admit() == Health::Admission::refused);
    health.succeeded();
    CHECK(health.snapshot().state == Health::State::closed);
    CHECK(health.admit() == Health::Admission::go);
    REQUIRE(h.lines.size() == 3);  // open, half_open, closed: each change once
    CHECK(h.lines[1].find("circuit half_open") != std::string::npos);
    CHECK(h.lines[2].find("circuit closed") != std::string::npos);
}

TEST_CASE("a failed probe opens the breaker for another interval", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 1, .probe_interval = 10s});
    fail(health, 1);
    h.now += 10s;
    REQUIRE(health.admit() == Health::Admission::probe);
    health.failed();
    CHECK(health.snapshot().state == Health::State::open);
    CHECK(health.snapshot().opened == 2);
    h.now += 5s;
    CHECK(health.admit() == Health::Admission::refused);
    h.now += 5s;
    CHECK(health.admit() == Health::Admission::probe);
}

TEST_CASE("a probe that never reports is replaced after an interval", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 1, .probe_interval = 10s});
    fail(health, 1);
    h.now += 10s;
    REQUIRE(health.admit() == Health::Admission::probe);
    h.now += 9s;
    CHECK(health.admit() == Health::Admission::refused);
    h.now += 1s;
    CHECK(health.admit() == Health::Admission::probe);
}

TEST_CASE("a breaker configured with 0 failures never opens", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 0});
    fail(health, 100);
    CHECK(health.snapshot().state == Health::State::closed);
}

TEST_CASE("retries stay within the ratio of requests plus the floor", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 0, .retry_ratio = 0.1, .retry_floor = 5});
    unsigned allowed = 0;
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(health.admit() == Health::Admission::go);
        // Every request wants all three of its retries.
        for (int r = 0; r < 3; ++r)
            if (health.may_retry()) ++allowed;
    }
    // 0.1 × 1000 requests + the floor of 5 (rounding in the balance allows one either way).
    CHECK(allowed >= 100);
    CHECK(allowed <= 106);
    CHECK(health.snapshot().retries == allowed);
    CHECK(health.snapshot().retries_refused == 3000 - allowed);
}

TEST_CASE("a healthy period banks no more than the floor of retries", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 0, .retry_ratio = 0.5, .retry_floor = 4});
    for (int i = 0; i < 1000; ++i)
        REQUIRE(health.admit() == Health::Admission::go);
    unsigned allowed = 0;
    while (health.may_retry())
        ++allowed;
    CHECK(allowed == 4);
}

TEST_CASE("no retries while the breaker is open or probing", "[upstream][health]") {
    Harness h;
    Health health = h.health({.failures = 1, .probe_interval = 10s});
    fail(health, 1);
    CHECK_FALSE(health.may_retry());
    h.now += 10s;
    REQUIRE(health.admit() == Health::Admission::probe);
    CHECK_FALSE(health.may_retry());
}
