#pragma once
// Helpers for the evictor and admin API tests: a real store in a temporary directory, blobs of
// incompressible bytes, and a clock the test moves by hand.

#include <atomic>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cache/evictor.hpp"
#include "store/blob_store.hpp"
#include "store/sha256.hpp"
#include "tests/common/temp_dir.hpp"

namespace cache::test {

using test_util::TempDir;

inline constexpr std::uint64_t k_mib = 1ull << 20;

// Whether a boost::system::result holds a value (Catch cannot print every result type).
template <class R>
bool ok(const R& r) {
    return r.has_value();
}

// Unix seconds that only the test advances.
struct FakeClock {
    std::atomic<std::int64_t> now{1'700'000'000};
    std::function<std::int64_t()> fn() {
        return [this] { return now.load(); };
    }
};

// A store in a temp dir plus an evictor over it. Blobs are random bytes (never compressed), so
// a blob of n MiB occupies n MiB of pages.
class EvictorFixture {
  public:
    explicit EvictorFixture(Limits limits = default_limits(),
                            std::vector<std::string> config_pins = {}) {
        m_limits = limits;
        m_config_pins = std::move(config_pins);
        open_store();
        open_evictor();
    }

    static Limits default_limits() {
        Limits l;
        l.max_size = 64 * k_mib;
        l.high_watermark = 0.9;
        l.low_watermark = 0.5;
        l.policy = "lru";
        return l;
    }

    void open_store() {
        store::Options o;
        o.path = m_dir.path() / "store";
        o.map_size = 256 * k_mib;
        auto s = store::BlobStore::open(o);
        REQUIRE(ok(s));
        m_store = std::move(*s);
    }

    void open_evictor() {
        EvictorOptions o;
        o.limits = m_limits;
        o.config_pins = m_config_pins;
        o.now = clock.fn();
        o.log = [this](std::string_view line) {
            std::function<void(std::string_view)> hook;
            {
                std::lock_guard lock(m_log_mutex);
                log_lines.emplace_back(line);
                hook = on_log;
            }
            if (hook) hook(line);
        };
        m_evictor = std::make_unique<Evictor>(*m_store, std::move(o));
        REQUIRE(ok(m_evictor->rebuild()));
    }

    // Closes and reopens store and evictor, as a restart does.
    void reopen() {
        m_evictor.reset();
        m_store.reset();
        open_store();
        open_evictor();
    }

    // Stores `bytes` of random data under its digest, without telling the evictor.
    store::Digest put_raw(std::uint64_t bytes, std::uint64_t seed = 0) {
        std::string data(bytes, '\0');
        std::mt19937_64 rng(seed ? seed : ++m_seed);
        for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
            const std::uint64_t v = rng();
            std::memcpy(data.data() + i, &v, 8);
        }
        const auto digest = store::Sha256::of(std::span<const char>(data.data(), data.size()));
        auto writer = m_store->begin(digest, "application/octet-stream");
        REQUIRE(ok(writer));
        REQUIRE(ok((*writer)->append(std::span<const char>(data.data(), data.size()))));
        REQUIRE(ok((*writer)->commit()));
        return digest;
    }

    // Stores a blob and reports it to the evictor, as the fetcher does.
    store::Digest put(std::uint64_t bytes) {
        auto d = put_raw(bytes);
        m_evictor->on_inserted(d, bytes);
        return d;
    }

    bool has(const store::Digest& d) {
        auto info = m_store->stat(d);
        REQUIRE(ok(info));
        return info->has_value();
    }

    std::uint64_t used() { return m_store->usage().used_bytes; }

    store::BlobStore& store() { return *m_store; }
    Evictor& evictor() { return *m_evictor; }

    std::vector<std::string> logged() {
        std::lock_guard lock(m_log_mutex);
        return log_lines;
    }
    void set_on_log(std::function<void(std::string_view)> hook) {
        std::lock_guard lock(m_log_mutex);
        on_log = std::move(hook);
    }

    FakeClock clock;

  private:
    std::mutex m_log_mutex;
    std::vector<std::string> log_lines;
    std::function<void(std::string_view)> on_log;
    TempDir m_dir;
    Limits m_limits;
    std::vector<std::string> m_config_pins;
    std::unique_ptr<store::BlobStore> m_store;
    std::unique_ptr<Evictor> m_evictor;
    std::uint64_t m_seed = 0;
};

}  // namespace cache::test
