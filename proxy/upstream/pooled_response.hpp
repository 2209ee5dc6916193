#pragma once
// A response read from a pooled connection, whose connection goes back to the pool once its
// body was read to the end.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "proxy/upstream/connection.hpp"
#include "proxy/upstream/pool.hpp"
#include "proxy/upstream/upstream_client.hpp"

namespace proxy::upstream {

using Parser = http::response_parser<http::buffer_body>;

class PooledResponse final : public Response {
  public:
    // `parser` has read the header from `connection`. For the answer to a HEAD (`head`), the
    // Content-Length header is the length a GET's body would have, and no body follows. A
    // response complete already (no body) hands its connection back at once.
    PooledResponse(std::shared_ptr<Pool> pool, std::unique_ptr<Connection> connection,
                   std::unique_ptr<Parser> parser, std::chrono::seconds read_timeout, bool head);

    unsigned status() const override { return m_parser->get().result_int(); }
    const http::fields& headers() const override { return m_parser->get(); }
    std::optional<std::uint64_t> content_length() const override { return m_content_length; }

    // Each read may wait up to read_timeout for bytes. After an error, every later read returns
    // the same error.
    net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
        net::mutable_buffer buffer) override;

  private:
    void finish();

    std::shared_ptr<Pool> m_pool;
    std::unique_ptr<Connection> m_connection;  // null once the body was read or failed
    std::unique_ptr<Parser> m_parser;
    std::chrono::seconds m_read_timeout;
    std::optional<std::uint64_t> m_content_length;
    boost::system::error_code m_error;
};

}  // namespace proxy::upstream
