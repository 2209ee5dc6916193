#include "proxy/access/decisions.hpp"

#include "store/sha256.hpp"

namespace proxy::access {

namespace {

constexpr std::size_t k_max_entries = 100'000;

}  // namespace

std::string Decisions::key(std::size_t upstream, std::string_view repo,
                           std::string_view authorization) {
    return std::to_string(upstream) + "\n" + std::string(repo) + "\n" +
           store::Sha256::of({authorization.data(), authorization.size()}).hex();
}

std::optional<Decisions::Decision> Decisions::find(const std::string& key, Clock::time_point now) {
    const std::lock_guard lock(m_mutex);
    const auto it = m_entries.find(key);
    if (it == m_entries.end()) return std::nullopt;
    if (it->second.expires <= now) {
        m_entries.erase(it);
        return std::nullopt;
    }
    return it->second.decision;
}

void Decisions::remember(const std::string& key, Decision decision, std::chrono::seconds ttl,
                         Clock::time_point now) {
    const std::lock_guard lock(m_mutex);
    if (m_entries.size() >= k_max_entries) {
        std::erase_if(m_entries, [now](const auto& e) { return e.second.expires <= now; });
        if (m_entries.size() >= k_max_entries) m_entries.clear();  // re-asking is only slower
    }
    m_entries[key] = Entry{std::move(decision), now + ttl};
}

std::size_t Decisions::size() const {
    const std::lock_guard lock(m_mutex);
    return m_entries.size();
}

}  // namespace proxy::access
