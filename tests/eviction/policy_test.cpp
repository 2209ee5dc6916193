#include "eviction/policy.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>

#include <catch2/catch.hpp>

#include "eviction/simulator.hpp"
#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

TEST_CASE("make_policy knows the five policies by name and nothing else", "[eviction]") {
    for (std::string_view name : eviction::k_policy_names) {
        auto policy = eviction::make_policy(name, 1234);
        REQUIRE(policy);
        CHECK(policy->name() == name);
        CHECK(policy->capacity() == 1234);
        CHECK(policy->size() == 0);
        CHECK(policy->bytes() == 0);
    }
    CHECK(eviction::make_policy("fifo", 1) == nullptr);
    CHECK(eviction::make_policy("", 1) == nullptr);
    CHECK(eviction::make_policy("LRU", 1) == nullptr);
}

TEST_CASE("every policy keeps its contents within the byte capacity under a random workload",
          "[eviction]") {
    for (std::string_view name : eviction::k_policy_names) {
        INFO("policy " << name);
        std::mt19937_64 rng(42);
        std::uint64_t capacity = 20'000;
        auto policy = eviction::make_policy(name, capacity);
        std::unordered_map<Key, std::uint64_t> mirror;  // what the cache holds
        auto size_of = [](Key key) { return 1 + (key * 2654435761u) % 3000; };
        std::uint64_t evictions = 0;
        for (int step = 0; step < 30'000; ++step) {
            // Skewed keys: the minimum of two uniform draws favours small ids.
            Key key = std::min(rng() % 2000, rng() % 2000);
            std::uint64_t bytes = size_of(key);
            if (step % 5000 == 4999) {
                capacity = 5'000 + rng() % 30'000;  // live limit change
                policy->set_capacity(capacity);
            }
            if (rng() % 50 == 0 && !mirror.empty()) {  // outside removal
                policy->on_remove(key);
                mirror.erase(key);
            } else if (policy->contains(key)) {
                REQUIRE(mirror.contains(key));
                policy->on_hit(key);
            } else {
                REQUIRE_FALSE(mirror.contains(key));
                if (bytes <= capacity) {
                    policy->on_insert(key, bytes);
                    mirror[key] = bytes;
                }
            }
            while (policy->bytes() > capacity) {
                auto victim = policy->evict();
                REQUIRE(victim);
                REQUIRE(mirror.erase(*victim) == 1);
                ++evictions;
            }
            REQUIRE(policy->bytes() <= capacity);
            REQUIRE(policy->size() == mirror.size());
        }
        std::uint64_t total = 0;
        for (auto& [key, bytes] : mirror) {
            CHECK(policy->contains(key));
            total += bytes;
        }
        CHECK(total == policy->bytes());
        CHECK(evictions > 1000);
    }
}

TEST_CASE("every policy skips keys that cannot be evicted and still evicts them later",
          "[eviction]") {
    for (std::string_view name : eviction::k_policy_names) {
        INFO("policy " << name);
        auto policy = eviction::make_policy(name, 1000);
        for (Key k = 1; k <= 10; ++k)
            policy->on_insert(k, 100);
        for (Key k = 1; k <= 10; k += 3)
            policy->on_hit(k);
        auto even = [](Key key) { return key % 2 == 0; };
        std::vector<Key> victims;
        while (auto victim = policy->evict(even))
            victims.push_back(*victim);
        std::sort(victims.begin(), victims.end());
        CHECK(victims == std::vector<Key>{2, 4, 6, 8, 10});
        CHECK(policy->size() == 5);
        for (Key k = 1; k <= 9; k += 2)
            CHECK(policy->contains(k));
        CHECK_FALSE(policy->next_victim([](Key) { return false; }).has_value());
        // The skipped keys were kept in a usable state: they all go once allowed.
        victims.clear();
        while (auto victim = policy->evict())
            victims.push_back(*victim);
        std::sort(victims.begin(), victims.end());
        CHECK(victims == std::vector<Key>{1, 3, 5, 7, 9});
        CHECK(policy->bytes() == 0);
    }
}

TEST_CASE("next_victim names the same key until the caller removes it", "[eviction]") {
    for (std::string_view name : eviction::k_policy_names) {
        INFO("policy " << name);
        auto policy = eviction::make_policy(name, 500);
        eviction::Simulator sim(*policy);
        for (Key k = 0; k < 200; ++k)
            sim.request(k % 37, 50);
        policy->on_insert(1000, 50);
        auto first = policy->next_victim();
        REQUIRE(first);
        CHECK(policy->next_victim() == first);
        CHECK(policy->contains(*first));
        policy->on_evict(*first);
        CHECK_FALSE(policy->contains(*first));
    }
}

TEST_CASE("shrinking the capacity live makes every policy evict down to the new limit",
          "[eviction]") {
    for (std::string_view name : eviction::k_policy_names) {
        INFO("policy " << name);
        auto policy = eviction::make_policy(name, 1000);
        eviction::Simulator sim(*policy);
        for (Key k = 0; k < 300; ++k)
            sim.request(k % 150, 10);
        CHECK(policy->bytes() == 1000);
        policy->set_capacity(300);
        sim.shrink_to_capacity();
        CHECK(policy->bytes() <= 300);
        CHECK(policy->bytes() >= 290);
        for (Key k = 0; k < 300; ++k) {
            sim.request(k % 50, 10);
            REQUIRE(policy->bytes() <= 300);
        }
        policy->set_capacity(2000);  // growing needs no eviction
        for (Key k = 0; k < 150; ++k)
            sim.request(k, 10);
        CHECK(policy->bytes() == 1500);
    }
}

TEST_CASE("the simulator counts hits and bytes and never inserts an object larger than the cache",
          "[eviction]") {
    auto policy = eviction::make_policy("lru", 100);
    eviction::Simulator sim(*policy);
    using Outcome = eviction::Simulator::Outcome;
    CHECK(sim.request(1, 60) == Outcome::miss);
    CHECK(sim.request(1, 60) == Outcome::hit);
    CHECK(sim.request(2, 101) == Outcome::miss_too_large);
    CHECK_FALSE(policy->contains(2));
    CHECK(sim.request(3, 50) == Outcome::miss);  // evicts 1
    CHECK_FALSE(policy->contains(1));
    const auto& s = sim.stats();
    CHECK(s.requests == 4);
    CHECK(s.hits == 1);
    CHECK(s.bytes_requested == 271);
    CHECK(s.bytes_hit == 60);
    CHECK(s.evictions == 1);
    CHECK(s.object_miss_ratio() == Approx(0.75));
    CHECK(s.byte_miss_ratio() == Approx(1.0 - 60.0 / 271.0));
}
