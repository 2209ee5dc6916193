#pragma once
// Incremental SHA-256 (OpenSSL EVP), owned RAII.

#include <memory>
#include <span>

#include "store/digest.hpp"

namespace proxy::fetch {

class Sha256 {
  public:
    Sha256();
    void update(std::span<const char> bytes);
    store::Digest finish();

  private:
    struct Free {
        void operator()(void* ctx) const;
    };
    std::unique_ptr<void, Free> m_ctx;
};

// The SHA-256 of `bytes` in one call.
store::Digest sha256_of(std::span<const char> bytes);

}  // namespace proxy::fetch
