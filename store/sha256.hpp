#pragma once
// Incremental SHA-256 (OpenSSL EVP) producing a store::Digest.

#include <memory>
#include <span>

#include <openssl/evp.h>

#include "store/digest.hpp"

namespace store {

class Sha256 {
  public:
    Sha256();
    void update(std::span<const char> bytes);
    // Finishes the hash; the object must not be updated afterwards.
    Digest finish();

    static Digest of(std::span<const char> bytes);

  private:
    struct Free {
        void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
    };
    std::unique_ptr<EVP_MD_CTX, Free> m_ctx;
};

}  // namespace store
