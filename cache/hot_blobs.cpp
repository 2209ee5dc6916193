#include "cache/hot_blobs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <functional>
#include <sys/mman.h>
#include <unistd.h>

#include "store/errors.hpp"

namespace cache {

namespace {

boost::system::error_code last_error() {
    return {errno, boost::system::system_category()};
}

}  // namespace

// ---- HotBlob ------------------------------------------------------------------------------

HotBlob::HotBlob(std::uint64_t size, std::string media_type, int fd)
    : m_size(size), m_media_type(std::move(media_type)), m_fd(fd) {}

HotBlob::~HotBlob() {
    // Pages a socket still holds stay valid after this: the kernel keeps them until it is done.
    if (m_fd >= 0) std::ignore = ::close(m_fd);
}

boost::system::result<std::unique_ptr<HotBlob>> HotBlob::create(std::uint64_t size,
                                                                std::string media_type) {
    if (size < k_inline_bytes) {
        std::unique_ptr<HotBlob> blob(new HotBlob(size, std::move(media_type), -1));
        blob->m_inline.reserve(static_cast<std::size_t>(size));
        return blob;
    }
    const int fd = ::memfd_create("envcache-hot-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return last_error();
    return std::unique_ptr<HotBlob>(new HotBlob(size, std::move(media_type), fd));
}

boost::system::result<void> HotBlob::append(std::span<const char> bytes) {
    if (m_sealed || bytes.size() > m_size - m_appended) return store::errc::out_of_range;
    m_hash.update(bytes);
    if (m_fd < 0) {
        m_inline.append(bytes.data(), bytes.size());
    } else {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::write(m_fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return last_error();
            done += static_cast<std::size_t>(n);
        }
    }
    m_appended += bytes.size();
    return {};
}

boost::system::result<void> HotBlob::seal(const store::Digest& digest) {
    if (m_sealed || m_appended != m_size) return store::errc::out_of_range;
    m_sealed = true;
    if (m_hash.finish() != digest) return store::errc::digest_mismatch;
    if (m_fd >= 0 &&
        ::fcntl(m_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        return last_error();
    m_digest = digest;
    return {};
}

// ---- HotBlobs -----------------------------------------------------------------------------

HotBlobs::HotBlobs(Options options) : m_options(options) {
    if (enabled()) m_policy = VictimPolicy::make("s3fifo", m_options.max_bytes);
}

std::shared_ptr<const HotBlob> HotBlobs::find(const store::Digest& digest) {
    if (!enabled()) return nullptr;
    std::lock_guard lock(m_mutex);
    auto it = m_blobs.find(digest);
    if (it == m_blobs.end()) return nullptr;
    m_policy->on_hit(digest);
    ++m_stats.hits;
    return it->second;
}

bool HotBlobs::claim(const store::Digest& digest, std::uint64_t size) {
    if (!enabled() || size > m_options.max_blob_bytes || size > m_options.max_bytes) return false;
    if (size >= HotBlob::k_inline_bytes && m_options.max_files == 0) return false;
    std::lock_guard lock(m_mutex);
    if (m_blobs.contains(digest)) return false;
    return m_claims.try_emplace(digest, true).second;
}

bool HotBlobs::insert(const store::Digest& digest, std::shared_ptr<const HotBlob> blob) {
    std::vector<std::shared_ptr<const HotBlob>> dropped;
    bool held = false;
    {
        std::lock_guard lock(m_mutex);
        auto claim = m_claims.find(digest);
        const bool wanted = claim != m_claims.end() && claim->second && blob->digest() == digest;
        if (claim != m_claims.end()) m_claims.erase(claim);
        if (!wanted || m_blobs.contains(digest)) {
            dropped.push_back(std::move(blob));
        } else {
            m_stats.bytes += blob->size();
            ++m_stats.blobs;
            if (blob->holds_file()) ++m_stats.files;
            ++m_stats.fills;
            m_policy->on_insert(digest, blob->size());
            m_blobs.emplace(digest, std::move(blob));
            make_room(dropped);
            held = m_blobs.contains(digest);
        }
    }
    // `dropped` closes its files here, outside the lock.
    return held;
}

void HotBlobs::abandon(const store::Digest& digest) {
    std::lock_guard lock(m_mutex);
    m_claims.erase(digest);
    ++m_stats.fill_errors;
}

void HotBlobs::erase(const store::Digest& digest) {
    if (!enabled()) return;
    std::shared_ptr<const HotBlob> dropped;  // declared first: destroyed after the unlock
    std::lock_guard lock(m_mutex);
    if (auto claim = m_claims.find(digest); claim != m_claims.end()) claim->second = false;
    auto it = m_blobs.find(digest);
    if (it == m_blobs.end()) return;
    dropped = it->second;
    m_policy->on_remove(digest);
    forget(it);
}

HotBlobs::Stats HotBlobs::stats() const {
    std::lock_guard lock(m_mutex);
    Stats stats = m_stats;
    stats.max_bytes = m_options.max_bytes;
    stats.max_blob_bytes = m_options.max_blob_bytes;
    return stats;
}

void HotBlobs::forget(std::unordered_map<store::Digest, std::shared_ptr<const HotBlob>,
                                         store::DigestHash>::iterator it) {
    m_stats.bytes -= it->second->size();
    --m_stats.blobs;
    if (it->second->holds_file()) --m_stats.files;
    m_blobs.erase(it);
}

void HotBlobs::make_room(std::vector<std::shared_ptr<const HotBlob>>& dropped) {
    // Only blobs that hold a file help when the files alone are over their limit.
    const std::function<bool(const store::Digest&)> holds_file = [this](const store::Digest& d) {
        auto it = m_blobs.find(d);
        return it != m_blobs.end() && it->second->holds_file();
    };
    while (m_stats.bytes > m_options.max_bytes || m_stats.files > m_options.max_files) {
        const bool files_only = m_stats.bytes <= m_options.max_bytes;
        const auto victim = m_policy->next_victim(files_only ? holds_file : nullptr);
        if (!victim) break;
        m_policy->on_evict(*victim);
        auto it = m_blobs.find(*victim);
        if (it == m_blobs.end()) continue;  // the policy no longer tracks it either
        dropped.push_back(it->second);
        forget(it);
        ++m_stats.evictions;
    }
}

}  // namespace cache
