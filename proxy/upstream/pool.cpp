#include "proxy/upstream/pool.hpp"

#include <utility>

namespace proxy::upstream {

std::unique_ptr<Connection> Pool::take(const std::string& key) {
    std::lock_guard lock(m_mutex);
    auto it = m_idle.find(key);
    if (it == m_idle.end()) {
        return nullptr;
    }
    auto& idle = it->second;
    while (!idle.empty()) {
        auto connection = std::move(idle.back());
        idle.pop_back();
        if (Connection::Clock::now() - connection->idle_since() < m_limits.max_idle_age) {
            return connection;
        }
    }
    return nullptr;
}

void Pool::give(std::unique_ptr<Connection> connection) {
    connection->mark_idle();
    std::lock_guard lock(m_mutex);
    auto& idle = m_idle[connection->key()];
    if (idle.size() < m_limits.max_idle_per_origin) {
        idle.push_back(std::move(connection));
    }
}

}  // namespace proxy::upstream
