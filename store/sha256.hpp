#pragma once
// Incremental SHA-256 (OpenSSL EVP) producing a store::Digest: the project's one SHA-256
// wrapper. Movable, not copyable.

#include <memory>
#include <span>

#include <openssl/evp.h>

#include "store/digest.hpp"

namespace store {

class Sha256 {
  public:
    // Throws std::bad_alloc when OpenSSL cannot allocate or initialise the context (a start-up
    // failure: OpenSSL is unusable).
    Sha256();
    Sha256(Sha256&&) noexcept = default;
    // Replaces this hash by `other`'s; `hash = Sha256();` starts over.
    Sha256& operator=(Sha256&&) noexcept = default;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    ~Sha256() = default;

    // update and finish abort the process, with a message on stderr, when OpenSSL fails or the
    // object is misused (moved from, or already finished): either is a programmer or OpenSSL
    // failure after which no digest could be trusted, and a content-addressed store must not
    // go on with a wrong one.
    void update(std::span<const char> bytes);
    // Finishes the hash. Afterwards the object may only be assigned to or destroyed.
    Digest finish();

    static Digest of(std::span<const char> bytes);

  private:
    void check_usable(const char* call) const;

    struct Free {
        void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
    };
    std::unique_ptr<EVP_MD_CTX, Free> m_ctx;
    bool m_finished = false;
};

}  // namespace store
