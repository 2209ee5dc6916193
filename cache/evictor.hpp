#pragma once
// Keeps the store within its byte limits: removes policy victims above the high watermark
// until below the low one, removes blobs unread for max_age, and never removes a blob that a
// pin protects or that someone holds a lease on (being read or fetched).
//
// Thread-safe: the io threads call acquire/on_inserted/on_hit/reserve; the removal work runs on
// a background thread (start()) or, in tests and for the admin API, on the caller's thread.
//
// Policy state lives in memory. rebuild() restores it at start-up from the store's metadata:
// blobs are inserted in order of last access (oldest first) and each blob's stored hit count is
// replayed as on_hit calls (at most k_max_replayed_hits). Recency order is therefore exact to the
// second; frequency is exact up to that cap; what the metadata does not hold is lost: the order
// of accesses within one second, S3-FIFO's and W-TinyLFU's queue membership and ghost entries,
// and the count-min sketch (which starts from the replayed hits). The same rebuild is used when
// the admin switches policy at run time.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/limits.hpp"
#include "cache/pins.hpp"
#include "cache/victim_policy.hpp"
#include "store/blob_store.hpp"

namespace cache {

struct EvictorOptions {
    Limits limits;                         // from the config file
    std::vector<std::string> config_pins;  // from the config file; the admin API cannot drop them
    // Unix seconds; injectable for tests. Defaults to the system clock.
    std::function<std::int64_t()> now;
    // One line per call, no trailing newline. Defaults to a line on stderr.
    std::function<void(std::string_view)> log;
    // Called just before the evictor removes a blob from the store (eviction, max_age, admin),
    // on the removing thread and without the evictor's lock; no lease can be taken on the blob
    // from then on. Optional.
    std::function<void(const store::Digest&)> removing;
};

struct RemovedBlob {
    store::Digest digest;
    std::uint64_t bytes = 0;  // logical size of the blob
    std::string reason;       // "watermark", "reserve", "max_age", "admin", "limits"
};

struct EvictionResult {
    std::vector<RemovedBlob> removed;  // in removal order; what would go for a dry run
    std::uint64_t used_before = 0;     // store usage (pages) before the run
    std::uint64_t used_after = 0;      // after; for a dry run, an estimate from blob sizes
    bool reached_target = true;        // false if protected blobs or errors stopped it early
    std::uint64_t remove_errors = 0;
};

struct PinInfo {
    std::string pin;
    bool from_config = false;
    std::optional<store::Digest> resolves_to;  // the manifest it names now, if any
};

struct EvictorStats {
    Limits limits;
    store::Usage usage;
    std::map<std::string, std::uint64_t> evictions;  // count by reason
    std::map<std::string, std::uint64_t> evicted_bytes;
    std::uint64_t tracked_blobs = 0;    // blobs the policy knows
    std::uint64_t leased_blobs = 0;     // blobs being read or fetched right now
    std::uint64_t protected_blobs = 0;  // blobs the pins protect (as of the last computation)
    std::uint64_t remove_errors = 0;
    std::uint64_t reserve_refused = 0;  // writes that could not fit even after eviction
};

enum class PinChange { done, invalid, exists, not_found, from_config, store_error };

class Evictor {
  public:
    static constexpr std::uint64_t k_max_replayed_hits = 32;

    // While a Lease on a digest exists the evictor does not remove that blob. Take it before
    // looking the blob up in the store and keep it until the last byte is written.
    class Lease {
      public:
        Lease() = default;
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&& other) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();

      private:
        friend class Evictor;
        Lease(Evictor* owner, const store::Digest& digest) : m_owner(owner), m_digest(digest) {}
        void release();
        Evictor* m_owner = nullptr;
        store::Digest m_digest;
    };

    // Room held for a write of known size until the blob is committed (or abandoned).
    class Reservation {
      public:
        Reservation() = default;
        Reservation(Reservation&& other) noexcept;
        Reservation& operator=(Reservation&& other) noexcept;
        Reservation(const Reservation&) = delete;
        Reservation& operator=(const Reservation&) = delete;
        ~Reservation();
        // False: the blob cannot fit even after eviction; stream it without storing.
        explicit operator bool() const { return m_owner != nullptr; }
        // Holds only `bytes` from now on (no more than now): as a write commits its pages they
        // count as used, and the part still to come is what stays reserved.
        void shrink_to(std::uint64_t bytes);

      private:
        friend class Evictor;
        Reservation(Evictor* owner, std::uint64_t bytes) : m_owner(owner), m_bytes(bytes) {}
        void release();
        Evictor* m_owner = nullptr;
        std::uint64_t m_bytes = 0;
    };

    // The store, and every Lease and Reservation, must not outlive the evictor's use of them:
    // destroy sessions first, then the evictor, then the store.
    Evictor(store::BlobStore& store, EvictorOptions options);
    ~Evictor();
    Evictor(const Evictor&) = delete;
    Evictor& operator=(const Evictor&) = delete;

    // Start-up: applies limits and pins persisted by the admin API (logging where they override
    // the config file), then rebuilds policy state from every blob in the store.
    store::result<void> rebuild();

    // Background thread: evicts when an insert pushed usage above the high watermark, and runs
    // expire() periodically when max_age is set. stop() (or the destructor) joins it.
    void start();
    void stop();

    // A blob was committed to the store (`bytes`: its size).
    void on_inserted(const store::Digest& digest, std::uint64_t bytes);
    // A blob was served from the store. The caller also calls store.touch(digest).
    void on_hit(const store::Digest& digest);
    // A blob was removed by someone else (corrupt data, verify).
    void on_removed(const store::Digest& digest);

    // Waits only if that very blob is being removed right now (then it is gone afterwards).
    Lease acquire(const store::Digest& digest);
    // The same without waiting: std::nullopt while that very blob is being removed.
    std::optional<Lease> try_acquire(const store::Digest& digest);
    // Before a write of known size: makes room (evicting synchronously if the store is too full
    // to take it under max_size). Fails if it cannot fit even after eviction. Usually returns
    // at once; it blocks only while the store is above max_size minus the write.
    Reservation reserve(std::uint64_t bytes);
    // The same without evicting, so it never blocks: empty when the write does not fit now
    // (then reserve() may still make room; this does not count as refused).
    Reservation try_reserve(std::uint64_t bytes);

    // Above the high watermark: removes victims until below the low watermark.
    EvictionResult maybe_evict();
    // Removes every blob unread for max_age (nothing if max_age is 0).
    EvictionResult expire();
    // Admin: removes victims until usage is at most `target_bytes`.
    EvictionResult evict_to(std::uint64_t target_bytes, bool dry_run);
    // Admin: removes one blob unless a pin protects it or it is in use. `bytes`: its size.
    enum class DigestEviction { removed, would_remove, not_found, pinned, in_use, store_error };
    DigestEviction evict_digest(const store::Digest& digest, bool dry_run, std::uint64_t* bytes);

    Limits limits() const;
    // Validates, applies at once and persists. A policy change rebuilds the policy from current
    // state; a smaller max_size evicts below the new low watermark before returning.
    std::optional<std::string> set_limits(const Limits& limits);
    // Forgets the limits set through the admin API: back to the config file's.
    std::optional<std::string> reset_limits();

    std::vector<PinInfo> pins();
    PinChange add_pin(const std::string& pin);
    PinChange remove_pin(const std::string& pin);

    EvictorStats stats();

  private:
    struct Entry {
        std::uint64_t bytes = 0;
        std::int64_t last_access = 0;
        std::uint64_t hits = 0;
    };

    std::int64_t now() const;
    void log(std::string_view line) const;
    void release_lease(const store::Digest& digest);
    void release_reservation(std::uint64_t bytes);
    // With m_mutex held: reserves `bytes` if they fit beside `used` and what is reserved already.
    Reservation reserve_locked(std::uint64_t used, std::uint64_t bytes);
    std::uint64_t used_bytes();
    // Recomputes the protected set from the pins (store reads; call without m_mutex).
    void refresh_protected();
    bool is_protected_locked(const store::Digest& digest) const;
    std::unique_ptr<VictimPolicy> build_policy_locked(const std::string& name) const;
    EvictionResult run(std::uint64_t target, const char* reason, bool dry_run);
    EvictionResult run_dry_locked(std::uint64_t used, std::uint64_t target, const char* reason);
    // Removes a blob from the store (m_removing must name it); `policy_choice`: it came from
    // next_victim(), so the policy records an eviction rather than a removal.
    bool remove_one(const store::Digest& digest, const char* reason, bool policy_choice,
                    EvictionResult& result);
    std::vector<std::string> all_pins_locked() const;
    void apply_limits(const Limits& limits);
    store::result<void> persist_pins(const std::vector<std::string>& admin_pins);
    void background();

    store::BlobStore& m_store;
    EvictorOptions m_options;

    // Only one removal run at a time (background, reserve, admin).
    std::mutex m_run_mutex;
    // Only one pin change at a time; held across the store write that persists the pins.
    std::mutex m_pins_mutex;

    mutable std::mutex m_mutex;
    std::condition_variable m_removed_cv;  // a removal finished (acquire waits on it)
    Limits m_limits;
    std::unique_ptr<VictimPolicy> m_policy;
    std::unordered_map<store::Digest, Entry, store::DigestHash> m_entries;
    std::unordered_map<store::Digest, std::uint32_t, store::DigestHash> m_leases;
    std::optional<store::Digest> m_removing;
    std::vector<std::string> m_admin_pins;
    DigestSet m_protected;
    std::uint64_t m_reserved = 0;
    std::map<std::string, std::uint64_t> m_evictions;
    std::map<std::string, std::uint64_t> m_evicted_bytes;
    std::uint64_t m_remove_errors = 0;
    std::uint64_t m_reserve_refused = 0;

    std::condition_variable m_wake_cv;  // background thread
    bool m_wake = false;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace cache
