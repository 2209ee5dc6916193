#pragma once
// Idle keep-alive connections by origin, for reuse by later requests to the same origin.

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/upstream/connection.hpp"

namespace proxy::upstream {

struct PoolLimits {
    std::size_t max_idle_per_origin = 16;
    // Servers close idle keep-alive connections after a while; older ones are not worth trying.
    Connection::Clock::duration max_idle_age = std::chrono::seconds(30);
};

// Shared by a client and its open responses, which hand their connection back when their body
// was read to the end; safe to use from several threads.
class Pool {
  public:
    Pool() = default;
    explicit Pool(PoolLimits limits) : m_limits(limits) {}

    // The most recently idled connection to the origin with this key that is younger than
    // max_idle_age, or null. Older ones met on the way are closed.
    std::unique_ptr<Connection> take(const std::string& key);

    // Keeps the connection for reuse, or closes it when its origin has max_idle_per_origin idle
    // ones already.
    void give(std::unique_ptr<Connection> connection);

  private:
    PoolLimits m_limits;
    std::mutex m_mutex;
    std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> m_idle;
};

}  // namespace proxy::upstream
