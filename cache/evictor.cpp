#include "cache/evictor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <boost/json.hpp>

#include "config/units.hpp"

namespace cache {

namespace json = boost::json;

namespace {

constexpr std::string_view k_settings = "settings";
constexpr std::string_view k_limits_key = "limits";
constexpr std::string_view k_pins_key = "pins";

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) {
    return a > b ? a - b : 0;
}

std::optional<Limits> parse_persisted_limits(const std::string& text, const Limits& base) {
    boost::system::error_code ec;
    auto value = json::parse(text, ec);
    if (ec || !value.is_object()) return std::nullopt;
    Limits limits = base;
    if (apply_patch(limits, value.get_object())) return std::nullopt;
    if (validate(limits)) return std::nullopt;
    return limits;
}

std::string describe_overrides(const Limits& file, const Limits& applied) {
    std::string out;
    auto add = [&](std::string_view field, const std::string& value) {
        if (!out.empty()) out += ' ';
        out += field;
        out += '=';
        out += value;
    };
    if (file.max_size != applied.max_size) add("max_size", config::format_size(applied.max_size));
    if (file.high_watermark != applied.high_watermark)
        add("high_watermark", std::to_string(applied.high_watermark));
    if (file.low_watermark != applied.low_watermark)
        add("low_watermark", std::to_string(applied.low_watermark));
    if (file.policy != applied.policy) add("policy", applied.policy);
    if (file.max_age != applied.max_age) add("max_age", config::format_duration(applied.max_age));
    return out;
}

}  // namespace

// ---- Lease / Reservation ------------------------------------------------------------------

Evictor::Lease::Lease(Lease&& other) noexcept
    : m_owner(std::exchange(other.m_owner, nullptr)), m_digest(other.m_digest) {}

Evictor::Lease& Evictor::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        m_owner = std::exchange(other.m_owner, nullptr);
        m_digest = other.m_digest;
    }
    return *this;
}

Evictor::Lease::~Lease() {
    release();
}

void Evictor::Lease::release() {
    if (m_owner) std::exchange(m_owner, nullptr)->release_lease(m_digest);
}

Evictor::Reservation::Reservation(Reservation&& other) noexcept
    : m_owner(std::exchange(other.m_owner, nullptr)), m_bytes(other.m_bytes) {}

Evictor::Reservation& Evictor::Reservation::operator=(Reservation&& other) noexcept {
    if (this != &other) {
        release();
        m_owner = std::exchange(other.m_owner, nullptr);
        m_bytes = other.m_bytes;
    }
    return *this;
}

Evictor::Reservation::~Reservation() {
    release();
}

void Evictor::Reservation::release() {
    if (m_owner) std::exchange(m_owner, nullptr)->release_reservation(m_bytes);
}

void Evictor::Reservation::shrink_to(std::uint64_t bytes) {
    if (!m_owner || bytes >= m_bytes) return;
    m_owner->release_reservation(m_bytes - bytes);
    m_bytes = bytes;
}

// ---- Evictor ------------------------------------------------------------------------------

Evictor::Evictor(store::BlobStore& store, EvictorOptions options)
    : m_store(store), m_options(std::move(options)), m_limits(m_options.limits) {
    if (!is_known_policy(m_limits.policy)) m_limits.policy = "lru";
    m_policy = VictimPolicy::make(m_limits.policy, m_limits.max_size);
}

Evictor::~Evictor() {
    stop();
}

std::int64_t Evictor::now() const {
    if (m_options.now) return m_options.now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void Evictor::log(std::string_view line) const {
    if (m_options.log) {
        m_options.log(line);
    } else {
        const std::string text = "evictor: " + std::string(line) + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
    }
}

store::result<void> Evictor::rebuild() {
    // Settings persisted by the admin API win over the config file.
    auto stored_limits = m_store.get_record(k_settings, k_limits_key);
    if (!stored_limits) return stored_limits.error();
    auto stored_pins = m_store.get_record(k_settings, k_pins_key);
    if (!stored_pins) return stored_pins.error();

    std::vector<std::pair<store::Digest, store::BlobInfo>> blobs;
    auto listed = m_store.for_each_blob(
        [&](const store::Digest& d, const store::BlobInfo& info) { blobs.emplace_back(d, info); });
    if (!listed) return listed.error();
    std::stable_sort(blobs.begin(), blobs.end(), [](const auto& a, const auto& b) {
        if (a.second.last_access != b.second.last_access)
            return a.second.last_access < b.second.last_access;
        return a.second.created < b.second.created;
    });

    std::lock_guard lock(m_mutex);
    if (*stored_limits) {
        if (auto persisted = parse_persisted_limits(**stored_limits, m_options.limits)) {
            if (*persisted != m_options.limits)
                log("limits from admin API override the config file: " +
                    describe_overrides(m_options.limits, *persisted));
            m_limits = *persisted;
        } else {
            log("ignoring unreadable persisted limits; using the config file's");
        }
    }
    if (*stored_pins) {
        boost::system::error_code ec;
        auto value = json::parse(**stored_pins, ec);
        if (!ec && value.is_array()) {
            m_admin_pins.clear();
            for (const auto& v : value.get_array())
                if (v.is_string() && !validate_pin(std::string_view(v.get_string())))
                    m_admin_pins.emplace_back(v.get_string());
            if (!m_admin_pins.empty())
                log("pins from admin API in addition to the config file: " +
                    std::to_string(m_admin_pins.size()));
        } else {
            log("ignoring unreadable persisted pins");
        }
    }

    m_entries.clear();
    for (const auto& [digest, info] : blobs) {
        Entry e;
        e.bytes = info.size;
        e.last_access = info.last_access != 0 ? info.last_access : info.created;
        e.hits = info.hits;
        m_entries.emplace(digest, e);
    }
    // Insertion order carries the recency; build_policy_locked sorts m_entries the same way.
    m_policy = build_policy_locked(m_limits.policy);
    return {};
}

std::unique_ptr<VictimPolicy> Evictor::build_policy_locked(const std::string& name) const {
    auto policy = VictimPolicy::make(name, m_limits.max_size);
    std::vector<std::pair<const store::Digest*, const Entry*>> order;
    order.reserve(m_entries.size());
    for (const auto& [d, e] : m_entries)
        order.emplace_back(&d, &e);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        if (a.second->last_access != b.second->last_access)
            return a.second->last_access < b.second->last_access;
        return *a.first < *b.first;
    });
    for (const auto& [d, e] : order) {
        policy->on_insert(*d, e->bytes);
        const auto replay = std::min(e->hits, k_max_replayed_hits);
        for (std::uint64_t i = 0; i < replay; ++i)
            policy->on_hit(*d);
    }
    return policy;
}

void Evictor::start() {
    std::lock_guard lock(m_mutex);
    if (m_thread.joinable()) return;
    m_stopping = false;
    m_thread = std::thread([this] { background(); });
}

void Evictor::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void Evictor::background() {
    std::unique_lock lock(m_mutex);
    auto next_expire = std::chrono::steady_clock::now();
    while (!m_stopping) {
        const auto max_age = m_limits.max_age;
        // Expire often enough that nothing outlives max_age by more than a sixteenth of it.
        const auto period = max_age.count() > 0 ? std::clamp(max_age / 16, std::chrono::seconds(1),
                                                             std::chrono::seconds(60))
                                                : std::chrono::seconds(60);
        m_wake_cv.wait_until(lock, next_expire, [&] { return m_stopping || m_wake; });
        if (m_stopping) break;
        const bool woken = std::exchange(m_wake, false);
        const bool expire_due = std::chrono::steady_clock::now() >= next_expire;
        lock.unlock();
        if (woken) std::ignore = maybe_evict();
        if (expire_due) {
            if (max_age.count() > 0) std::ignore = expire();
            next_expire = std::chrono::steady_clock::now() + period;
        }
        lock.lock();
    }
}

void Evictor::on_inserted(const store::Digest& digest, std::uint64_t bytes) {
    {
        std::lock_guard lock(m_mutex);
        auto [it, fresh] = m_entries.try_emplace(digest);
        it->second.bytes = bytes;
        it->second.last_access = now();
        if (fresh) {
            m_policy->on_insert(digest, bytes);
        } else {
            m_policy->on_hit(digest);
        }
        m_wake = true;
    }
    m_wake_cv.notify_one();
}

void Evictor::on_hit(const store::Digest& digest) {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(digest);
    if (it == m_entries.end()) return;
    it->second.last_access = now();
    ++it->second.hits;
    m_policy->on_hit(digest);
}

void Evictor::on_removed(const store::Digest& digest) {
    std::lock_guard lock(m_mutex);
    if (m_entries.erase(digest) > 0) m_policy->on_remove(digest);
}

std::optional<Evictor::Lease> Evictor::try_acquire(const store::Digest& digest) {
    std::lock_guard lock(m_mutex);
    if (m_removing == digest) return std::nullopt;
    ++m_leases[digest];
    return Lease(this, digest);
}

Evictor::Lease Evictor::acquire(const store::Digest& digest) {
    std::unique_lock lock(m_mutex);
    m_removed_cv.wait(lock, [&] { return m_removing != digest; });
    ++m_leases[digest];
    return Lease(this, digest);
}

void Evictor::release_lease(const store::Digest& digest) {
    std::lock_guard lock(m_mutex);
    auto it = m_leases.find(digest);
    if (it == m_leases.end()) return;
    if (--it->second == 0) m_leases.erase(it);
}

void Evictor::release_reservation(std::uint64_t bytes) {
    std::lock_guard lock(m_mutex);
    m_reserved = saturating_sub(m_reserved, bytes);
}

std::uint64_t Evictor::used_bytes() {
    return m_store.usage().used_bytes;
}

Evictor::Reservation Evictor::reserve_locked(std::uint64_t used, std::uint64_t bytes) {
    const std::uint64_t max_size = m_limits.max_size;
    if (bytes > max_size || used > max_size - bytes || m_reserved > max_size - bytes - used)
        return Reservation();
    m_reserved += bytes;
    if (used + m_reserved > m_limits.high_bytes()) {
        m_wake = true;
        m_wake_cv.notify_one();
    }
    return Reservation(this, bytes);
}

Evictor::Reservation Evictor::try_reserve(std::uint64_t bytes) {
    const std::uint64_t used = used_bytes();
    std::lock_guard lock(m_mutex);
    return reserve_locked(used, bytes);
}

Evictor::Reservation Evictor::reserve(std::uint64_t bytes) {
    if (auto now = try_reserve(bytes)) return now;
    std::uint64_t max_size = 0;
    std::uint64_t reserved = 0;
    std::uint64_t low = 0;
    {
        std::lock_guard lock(m_mutex);
        max_size = m_limits.max_size;
        reserved = m_reserved;
        low = m_limits.low_bytes();
    }
    if (bytes <= max_size) {
        // Make room now; below the low watermark if that suffices, else just enough.
        const std::uint64_t room = saturating_sub(max_size, bytes + reserved);
        std::ignore = run(std::min(low, room), "reserve", false);
    }
    const std::uint64_t used = used_bytes();
    std::lock_guard lock(m_mutex);
    auto reservation = reserve_locked(used, bytes);
    if (!reservation) ++m_reserve_refused;
    return reservation;
}

void Evictor::refresh_protected() {
    std::vector<std::string> pins;
    {
        std::lock_guard lock(m_mutex);
        pins = all_pins_locked();
    }
    DigestSet computed = protected_digests(m_store, pins);
    std::lock_guard lock(m_mutex);
    m_protected = std::move(computed);
}

std::vector<std::string> Evictor::all_pins_locked() const {
    std::vector<std::string> pins = m_options.config_pins;
    pins.insert(pins.end(), m_admin_pins.begin(), m_admin_pins.end());
    return pins;
}

bool Evictor::is_protected_locked(const store::Digest& digest) const {
    return m_protected.contains(digest) || m_leases.contains(digest);
}

EvictionResult Evictor::maybe_evict() {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    {
        std::lock_guard lock(m_mutex);
        high = m_limits.high_bytes();
        low = m_limits.low_bytes();
    }
    EvictionResult result;
    result.used_before = result.used_after = used_bytes();
    if (result.used_before <= high) return result;
    return run(low, "watermark", false);
}

EvictionResult Evictor::evict_to(std::uint64_t target_bytes, bool dry_run) {
    return run(target_bytes, "admin", dry_run);
}

bool Evictor::remove_one(const store::Digest& digest, const char* reason, bool policy_choice,
                         EvictionResult& result) {
    // Called with m_removing == digest: acquire() of this digest waits until we are done.
    if (m_options.removing) m_options.removing(digest);
    auto removed = m_store.remove(digest);
    std::unique_lock lock(m_mutex);
    m_removing.reset();
    bool ok = false;
    if (removed) {
        std::uint64_t bytes = 0;
        if (auto it = m_entries.find(digest); it != m_entries.end()) {
            bytes = it->second.bytes;
            m_entries.erase(it);
        }
        if (policy_choice) {
            m_policy->on_evict(digest);
        } else {
            m_policy->on_remove(digest);
        }
        ++m_evictions[reason];
        m_evicted_bytes[reason] += bytes;
        result.removed.push_back({digest, bytes, reason});
        ok = true;
    } else {
        ++m_remove_errors;
        ++result.remove_errors;
        lock.unlock();
        log("removing " + digest.str() + " failed: " + removed.error().message());
        lock.lock();
    }
    lock.unlock();
    m_removed_cv.notify_all();
    return ok;
}

EvictionResult Evictor::run(std::uint64_t target, const char* reason, bool dry_run) {
    std::lock_guard run_lock(m_run_mutex);
    refresh_protected();
    EvictionResult result;
    result.used_before = used_bytes();
    if (dry_run) {
        std::lock_guard lock(m_mutex);
        return run_dry_locked(result.used_before, target, reason);
    }
    std::uint64_t used = result.used_before;
    DigestSet failed;  // removal failed this run; not asked for again
    auto evictable = [&](const store::Digest& d) {
        return !is_protected_locked(d) && !failed.contains(d);
    };
    while (used > target) {
        std::optional<store::Digest> victim;
        {
            std::lock_guard lock(m_mutex);
            victim = m_policy->next_victim(evictable);
            if (victim) m_removing = victim;
        }
        if (!victim) {
            result.reached_target = false;
            break;
        }
        if (!remove_one(*victim, reason, true, result)) failed.insert(*victim);
        used = used_bytes();
    }
    result.used_after = used;
    if (!result.removed.empty())
        log(std::string(reason) + ": removed " + std::to_string(result.removed.size()) +
            " blobs, usage " + config::format_size(result.used_before) + " -> " +
            config::format_size(result.used_after));
    return result;
}

EvictionResult Evictor::run_dry_locked(std::uint64_t used, std::uint64_t target,
                                       const char* reason) {
    // Draw victims from a copy of the policy rebuilt from current state, so the live policy is
    // untouched. Freed space is estimated from blob sizes.
    EvictionResult result;
    result.used_before = used;
    auto scratch = build_policy_locked(m_limits.policy);
    auto evictable = [&](const store::Digest& d) { return !is_protected_locked(d); };
    while (used > target) {
        auto candidate = scratch->next_victim(evictable);
        if (!candidate) {
            result.reached_target = false;
            break;
        }
        scratch->on_evict(*candidate);
        const auto bytes = m_entries.at(*candidate).bytes;
        result.removed.push_back({*candidate, bytes, reason});
        used = saturating_sub(used, bytes);
    }
    result.used_after = used;
    return result;
}

EvictionResult Evictor::expire() {
    std::lock_guard run_lock(m_run_mutex);
    EvictionResult result;
    result.used_before = result.used_after = used_bytes();
    std::vector<std::pair<std::int64_t, store::Digest>> old;
    {
        std::lock_guard lock(m_mutex);
        if (m_limits.max_age.count() <= 0) return result;
        const std::int64_t cutoff = now() - m_limits.max_age.count();
        for (const auto& [d, e] : m_entries)
            if (e.last_access <= cutoff) old.emplace_back(e.last_access, d);
    }
    if (old.empty()) return result;
    refresh_protected();
    std::sort(old.begin(), old.end());
    for (const auto& [when, digest] : old) {
        {
            std::lock_guard lock(m_mutex);
            auto it = m_entries.find(digest);
            // Read again since we listed it, or protected: it stays.
            if (it == m_entries.end() || it->second.last_access != when ||
                is_protected_locked(digest))
                continue;
            m_removing = digest;
        }
        remove_one(digest, "max_age", false, result);
    }
    result.used_after = used_bytes();
    if (!result.removed.empty())
        log("max_age: removed " + std::to_string(result.removed.size()) + " blobs unread for " +
            config::format_duration(m_limits.max_age));
    return result;
}

Evictor::DigestEviction Evictor::evict_digest(const store::Digest& digest, bool dry_run,
                                              std::uint64_t* bytes) {
    std::lock_guard run_lock(m_run_mutex);
    auto info = m_store.stat(digest);
    if (!info) return DigestEviction::store_error;
    if (!*info) return DigestEviction::not_found;
    if (bytes) *bytes = (*info)->size;
    refresh_protected();
    {
        std::lock_guard lock(m_mutex);
        if (m_protected.contains(digest)) return DigestEviction::pinned;
        if (m_leases.contains(digest)) return DigestEviction::in_use;
        if (dry_run) return DigestEviction::would_remove;
        m_removing = digest;
    }
    EvictionResult result;
    if (!remove_one(digest, "admin", false, result)) return DigestEviction::store_error;
    if (result.removed.back().bytes == 0) {
        // Not tracked by the policy (inserted without on_inserted); count its real size.
        std::lock_guard lock(m_mutex);
        m_evicted_bytes["admin"] += (*info)->size;
    }
    return DigestEviction::removed;
}

Limits Evictor::limits() const {
    std::lock_guard lock(m_mutex);
    return m_limits;
}

std::optional<std::string> Evictor::set_limits(const Limits& limits) {
    if (auto problem = validate(limits)) return problem;
    auto text = json::serialize(to_json(limits));
    if (auto saved = m_store.put_record(k_settings, k_limits_key, text); !saved)
        return "could not save the limits: " + saved.error().message();
    apply_limits(limits);
    return std::nullopt;
}

std::optional<std::string> Evictor::reset_limits() {
    if (auto deleted = m_store.delete_record(k_settings, k_limits_key); !deleted)
        return "could not delete the saved limits: " + deleted.error().message();
    apply_limits(m_options.limits);
    return std::nullopt;
}

void Evictor::apply_limits(const Limits& limits) {
    {
        std::lock_guard lock(m_mutex);
        const bool new_policy = limits.policy != m_limits.policy;
        m_limits = limits;
        if (new_policy) {
            m_policy = build_policy_locked(m_limits.policy);
        } else {
            m_policy->set_capacity(m_limits.max_size);
        }
    }
    log("limits set: max_size=" + config::format_size(limits.max_size) +
        " high_watermark=" + std::to_string(limits.high_watermark) +
        " low_watermark=" + std::to_string(limits.low_watermark) + " policy=" + limits.policy +
        " max_age=" + config::format_duration(limits.max_age));
    if (used_bytes() > limits.high_bytes()) std::ignore = run(limits.low_bytes(), "limits", false);
    if (limits.max_age.count() > 0) std::ignore = expire();
    m_wake_cv.notify_one();  // the expiry period may have changed
}

std::vector<PinInfo> Evictor::pins() {
    std::vector<PinInfo> out;
    {
        std::lock_guard lock(m_mutex);
        for (const auto& p : m_options.config_pins)
            out.push_back({p, true, std::nullopt});
        for (const auto& p : m_admin_pins)
            out.push_back({p, false, std::nullopt});
    }
    for (auto& p : out)
        p.resolves_to = resolve_pin(m_store, p.pin);
    return out;
}

store::result<void> Evictor::persist_pins(const std::vector<std::string>& admin_pins) {
    json::array arr;
    for (const auto& p : admin_pins)
        arr.emplace_back(p);
    return m_store.put_record(k_settings, k_pins_key, json::serialize(arr));
}

PinChange Evictor::add_pin(const std::string& pin) {
    if (validate_pin(pin)) return PinChange::invalid;
    // Pin changes are serialised by m_pins_mutex; m_mutex, which every request takes, is never
    // held across the store write that persists them.
    std::lock_guard pins_lock(m_pins_mutex);
    std::vector<std::string> admin_pins;
    {
        std::lock_guard lock(m_mutex);
        const auto pins = all_pins_locked();
        if (std::find(pins.begin(), pins.end(), pin) != pins.end()) return PinChange::exists;
        admin_pins = m_admin_pins;
    }
    admin_pins.push_back(pin);
    if (!persist_pins(admin_pins)) return PinChange::store_error;
    {
        std::lock_guard lock(m_mutex);
        m_admin_pins = std::move(admin_pins);
    }
    log("pin added: " + pin);
    refresh_protected();
    return PinChange::done;
}

PinChange Evictor::remove_pin(const std::string& pin) {
    std::lock_guard pins_lock(m_pins_mutex);
    std::vector<std::string> admin_pins;
    {
        std::lock_guard lock(m_mutex);
        const auto& cfg = m_options.config_pins;
        if (std::find(cfg.begin(), cfg.end(), pin) != cfg.end()) return PinChange::from_config;
        admin_pins = m_admin_pins;
    }
    auto it = std::find(admin_pins.begin(), admin_pins.end(), pin);
    if (it == admin_pins.end()) return PinChange::not_found;
    admin_pins.erase(it);
    if (!persist_pins(admin_pins)) return PinChange::store_error;
    {
        std::lock_guard lock(m_mutex);
        m_admin_pins = std::move(admin_pins);
    }
    log("pin removed: " + pin);
    refresh_protected();
    return PinChange::done;
}

EvictorStats Evictor::stats() {
    EvictorStats s;
    s.usage = m_store.usage();
    std::lock_guard lock(m_mutex);
    s.limits = m_limits;
    s.evictions = m_evictions;
    s.evicted_bytes = m_evicted_bytes;
    s.tracked_blobs = m_entries.size();
    s.leased_blobs = m_leases.size();
    s.protected_blobs = m_protected.size();
    s.remove_errors = m_remove_errors;
    s.reserve_refused = m_reserve_refused;
    return s;
}

}  // namespace cache
