#include "proxy/fetch/sha256.hpp"

#include <openssl/evp.h>

namespace proxy::fetch {

void Sha256::Free::operator()(void* ctx) const {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx));
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(m_ctx.get()), EVP_sha256(), nullptr);
}

void Sha256::update(std::span<const char> bytes) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(m_ctx.get()), bytes.data(), bytes.size());
}

store::Digest Sha256::finish() {
    store::Digest d;
    unsigned len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(m_ctx.get()), d.bytes.data(), &len);
    return d;
}

store::Digest sha256_of(std::span<const char> bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

}  // namespace proxy::fetch
