#include "config/tls_files.hpp"

#include <cstdio>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace config {

namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Refuses a passphrase prompt: an encrypted key fails to load instead of waiting on a terminal.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

std::unique_ptr<BIO, BioFree> open(const std::filesystem::path& file) {
    return std::unique_ptr<BIO, BioFree>(BIO_new_file(file.c_str(), "r"));
}

std::string quoted(const std::filesystem::path& file) {
    return "\"" + file.string() + "\"";
}

std::unique_ptr<X509, X509Free> first_certificate(const std::filesystem::path& file) {
    auto bio = open(file);
    if (!bio) return nullptr;
    return std::unique_ptr<X509, X509Free>(
        PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
}

}  // namespace

std::optional<std::string> certificate_file_problem(const std::filesystem::path& file) {
    if (!open(file)) return "cannot read " + quoted(file);
    const bool found = first_certificate(file) != nullptr;
    ERR_clear_error();
    if (!found) return quoted(file) + " holds no PEM certificate";
    return std::nullopt;
}

std::optional<std::string> key_file_problem(const std::filesystem::path& key,
                                            const std::filesystem::path& cert) {
    auto bio = open(key);
    if (!bio) return "cannot read " + quoted(key);
    const std::unique_ptr<EVP_PKEY, KeyFree> pkey(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    const auto certificate = first_certificate(cert);
    const bool matches =
        pkey && certificate && X509_check_private_key(certificate.get(), pkey.get());
    ERR_clear_error();
    if (!pkey) return quoted(key) + " holds no unencrypted PEM private key";
    if (!matches) return quoted(key) + " is not the key of the certificate in " + quoted(cert);
    return std::nullopt;
}

}  // namespace config
