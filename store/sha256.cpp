#include "store/sha256.hpp"

#include <new>

namespace store {

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
    // Allocation or init failure here means OpenSSL is unusable; that is a start-up error.
    if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1) {
        throw std::bad_alloc();
    }
}

void Sha256::update(std::span<const char> bytes) {
    if (!bytes.empty()) EVP_DigestUpdate(m_ctx.get(), bytes.data(), bytes.size());
}

Digest Sha256::finish() {
    Digest d;
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_ctx.get(), d.bytes.data(), &len);
    return d;
}

Digest Sha256::of(std::span<const char> bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

}  // namespace store
