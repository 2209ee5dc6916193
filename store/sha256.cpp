#include "store/sha256.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>

#include <openssl/err.h>

namespace store {
namespace {

[[noreturn]] void die(const char* call, const char* why) {
    char detail[256] = "";
    if (const unsigned long e = ERR_get_error(); e != 0) {
        ERR_error_string_n(e, detail, sizeof detail);
    }
    std::fprintf(stderr, "store::Sha256: %s: %s %s\n", call, why, detail);
    std::abort();
}

}  // namespace

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
    // Allocation or init failure here means OpenSSL is unusable; that is a start-up error.
    if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1) {
        throw std::bad_alloc();
    }
}

void Sha256::check_usable(const char* call) const {
    if (!m_ctx) die(call, "called on a moved-from object");
    if (m_finished) die(call, "called after finish()");
}

void Sha256::update(std::span<const char> bytes) {
    check_usable("update");
    if (bytes.empty()) return;
    if (EVP_DigestUpdate(m_ctx.get(), bytes.data(), bytes.size()) != 1) {
        die("update", "EVP_DigestUpdate failed");
    }
}

Digest Sha256::finish() {
    check_usable("finish");
    Digest d;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(m_ctx.get(), d.bytes.data(), &len) != 1 || len != d.bytes.size()) {
        die("finish", "EVP_DigestFinal_ex failed");
    }
    m_finished = true;
    return d;
}

Digest Sha256::of(std::span<const char> bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

}  // namespace store
