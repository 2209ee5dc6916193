#include "proxy/access/identities.hpp"

#include <array>
#include <crypt.h>
#include <fstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store/sha256.hpp"

namespace proxy::access {

namespace {

// A password checked once is not checked with bcrypt again for this long: bcrypt costs
// milliseconds, and a pull sends the same credentials with every blob.
constexpr auto k_verified_for = std::chrono::minutes(5);
constexpr std::size_t k_max_remembered = 10'000;

std::string hash_hex(std::string_view secret) {
    return store::Sha256::of({secret.data(), secret.size()}).hex();
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    return std::string(s);
}

// Calls `line_fn(text, line_number)` for each line of `file` that is neither blank nor a comment.
template <class Fn>
void each_line(const std::string& file, Fn line_fn) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file + ": cannot read the file");
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const auto text = trim(line);
        if (text.empty() || text.front() == '#') continue;
        line_fn(text, number);
    }
}

[[noreturn]] void reject(const std::string& file, int line, const std::string& reason) {
    throw std::runtime_error(file + ":" + std::to_string(line) + ": " + reason);
}

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.empty() || in.size() % 4 != 0 || in.size() > 8192) return std::nullopt;
    std::string out(in.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    std::size_t size = static_cast<std::size_t>(n);
    if (in.ends_with("=="))
        size -= 2;
    else if (in.ends_with("="))
        size -= 1;
    out.resize(size);
    return out;
}

bool starts_with_scheme(std::string_view value, std::string_view scheme) {
    if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
    return true;
}

Caller identified(std::string name) {
    Caller c;
    c.kind = Caller::Kind::identified;
    c.names = {name};
    c.name = std::move(name);
    return c;
}

}  // namespace

Identities::Identities(const config::AccessConfig& config)
    : m_enabled(!config.htpasswd_file.empty() || !config.tokens_file.empty()),
      m_issued_ttl(config.issued_token_ttl) {
    if (!config.htpasswd_file.empty()) {
        const auto& file = config.htpasswd_file;
        each_line(file, [&](const std::string& text, int line) {
            const auto colon = text.find(':');
            if (colon == 0 || colon == std::string::npos) reject(file, line, "expected user:hash");
            const std::string user = text.substr(0, colon);
            const std::string hash = text.substr(colon + 1);
            if (!(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")))
                reject(file, line,
                       "user " + user + ": not a bcrypt hash (write the file with htpasswd -B)");
            if (!m_htpasswd.emplace(user, hash).second)
                reject(file, line, "user " + user + " appears twice");
        });
    }
    if (!config.tokens_file.empty()) {
        const auto& file = config.tokens_file;
        each_line(file, [&](const std::string& text, int line) {
            const auto space = text.find_first_of(" \t");
            if (space == std::string::npos) reject(file, line, "expected <identity> <token>");
            const std::string name = text.substr(0, space);
            const std::string token = trim(text.substr(space + 1));
            if (token.empty() || token.find_first_of(" \t") != std::string::npos)
                reject(file, line, "expected <identity> <token>");
            m_tokens.emplace_back(hash_hex(token), name);
        });
    }
}

bool Identities::check_password(std::string_view user, std::string_view password) const {
    const auto it = m_htpasswd.find(std::string(user));
    if (it == m_htpasswd.end()) return false;
    crypt_data data{};
    const std::string phrase(password);
    const char* out = crypt_rn(phrase.c_str(), it->second.c_str(), &data, sizeof data);
    if (!out || out[0] == '*') return false;
    const std::string_view computed(out);
    return computed.size() == it->second.size() &&
           CRYPTO_memcmp(computed.data(), it->second.data(), computed.size()) == 0;
}

Caller Identities::from_basic(std::string_view encoded, Clock::time_point now) {
    Caller refused;
    refused.kind = Caller::Kind::refused;
    const auto decoded = base64_decode(encoded);
    if (!decoded) return refused;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return refused;
    const std::string key = hash_hex(*decoded);
    {
        const std::lock_guard lock(m_mutex);
        if (const auto it = m_verified.find(key); it != m_verified.end()) {
            if (it->second.expires > now) return identified(it->second.name);
            m_verified.erase(it);
        }
    }
    const std::string user = decoded->substr(0, colon);
    if (!check_password(user, std::string_view(*decoded).substr(colon + 1))) return refused;
    const std::lock_guard lock(m_mutex);
    if (m_verified.size() >= k_max_remembered) m_verified.clear();
    m_verified[key] = Verified{user, now + k_verified_for};
    return identified(user);
}

Caller Identities::from_bearer(std::string_view token, Clock::time_point now) {
    const std::string key = hash_hex(token);
    // Every configured token is compared, in constant time each, whatever matches.
    const std::string* match = nullptr;
    for (const auto& [hash, name] : m_tokens)
        if (CRYPTO_memcmp(hash.data(), key.data(), key.size()) == 0) match = &name;
    if (match) return identified(*match);
    const std::lock_guard lock(m_mutex);
    const auto it = m_issued.find(key);  // a hash of a random token: its lookup reveals nothing
    if (it == m_issued.end() || it->second.expires <= now) {
        Caller refused;
        refused.kind = Caller::Kind::refused;
        return refused;
    }
    if (it->second.name.empty()) return Caller{};
    return identified(it->second.name);
}

Caller Identities::identify(std::string_view authorization,
                            const std::vector<std::string>& cert_names, Clock::time_point now) {
    Caller from_header;
    if (!authorization.empty()) {
        from_header.kind = Caller::Kind::refused;
        if (starts_with_scheme(authorization, "basic"))
            from_header = from_basic(trim(authorization.substr(6)), now);
        else if (starts_with_scheme(authorization, "bearer"))
            from_header = from_bearer(trim(authorization.substr(7)), now);
        if (from_header.identified()) return from_header;
    }
    if (!cert_names.empty()) {
        Caller c;
        c.kind = Caller::Kind::identified;
        c.name = cert_names.front();
        c.names = cert_names;
        return c;
    }
    return from_header;
}

std::string Identities::issue(const Caller& caller, Clock::time_point now) {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("no random bytes for a token");  // OpenSSL unusable
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string token;
    for (const auto b : bytes) {
        token += k_hex[b >> 4];
        token += k_hex[b & 15];
    }
    const std::lock_guard lock(m_mutex);
    if (m_issued.size() >= k_max_remembered) {
        std::erase_if(m_issued, [now](const auto& entry) { return entry.second.expires <= now; });
        if (m_issued.size() >= k_max_remembered) m_issued.erase(m_issued.begin());
    }
    m_issued[hash_hex(token)] =
        Issued{caller.identified() ? caller.name : std::string(), now + m_issued_ttl};
    return token;
}

}  // namespace proxy::access
