#pragma once
// The hot tier: whole small blobs kept in memory in front of the store, so that a hit on one is
// sent from memory, with sendfile(2) for all but the smallest: no store read, no checksum and
// no copy through this process. Serving a stored blob costs a pread out of LMDB's file, a
// CRC-32C pass and a copy into the socket; nginx serves the same bytes with sendfile alone.
//
// Why a memfd and not the store's own file: sendfile hands the socket references to the
// file's pages, and the kernel may hold them for as long as a client leaves bytes unread. LMDB
// writes freed pages again in place, which would change bytes already "sent". A hot blob's
// memfd is sealed against every write once filled, so its pages never change; dropping the
// blob closes the memfd, and pages still queued in a socket stay valid until the kernel lets
// them go.
//
// Every blob here hashed to its digest when it was copied in. The tier is bounded in bytes and
// in open files, and replaces blobs by the S3-FIFO policy (a blob read once, as by a scan of
// cold images, leaves again soon). It is a copy: the store and its evictor stay the owners,
// and a blob the store removes leaves the tier too (cache::Cache sees to both).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/system/result.hpp>

#include "cache/victim_policy.hpp"
#include "store/digest.hpp"
#include "store/sha256.hpp"

namespace cache {

// One blob held in memory. Immutable once sealed: its bytes never change while it exists.
class HotBlob {
  public:
    // Blobs under this size are kept as a string and written with their response head, one
    // write: sendfile costs more than the copy it saves at that size.
    static constexpr std::uint64_t k_inline_bytes = 16 * 1024;

    // An empty copy of a blob of `size` bytes, to append() to and then seal(). From
    // k_inline_bytes on, a memfd (the error is memfd_create's).
    static boost::system::result<std::unique_ptr<HotBlob>> create(std::uint64_t size,
                                                                  std::string media_type);
    ~HotBlob();
    HotBlob(const HotBlob&) = delete;
    HotBlob& operator=(const HotBlob&) = delete;

    // Appends the next bytes; fails past `size` or when the memfd does not take them.
    boost::system::result<void> append(std::span<const char> bytes);
    // Checks that `size` bytes were appended and hash to `digest` (store::errc::digest_mismatch
    // otherwise), then seals the memfd against any write, shrink or growth.
    boost::system::result<void> seal(const store::Digest& digest);

    std::uint64_t size() const { return m_size; }
    const std::string& media_type() const { return m_media_type; }
    // The digest its bytes were found to hash to when it was sealed (none before).
    const std::optional<store::Digest>& digest() const { return m_digest; }
    // The sealed memfd, or -1 for a blob kept inline.
    int fd() const { return m_fd; }
    // The bytes of a blob kept inline (empty for a memfd).
    std::string_view inline_bytes() const { return m_inline; }
    // Whether it holds a file descriptor.
    bool holds_file() const { return m_fd >= 0; }

  private:
    HotBlob(std::uint64_t size, std::string media_type, int fd);

    std::uint64_t m_size;
    std::string m_media_type;
    int m_fd;
    std::string m_inline;
    std::uint64_t m_appended = 0;
    store::Sha256 m_hash;
    bool m_sealed = false;
    std::optional<store::Digest> m_digest;
};

class HotBlobs {
  public:
    struct Options {
        std::uint64_t max_bytes = 0;       // 0: the tier is off
        std::uint64_t max_blob_bytes = 0;  // larger blobs are never held
        std::size_t max_files = 4096;      // memfds held at most (each is an open file)
    };
    struct Stats {
        std::uint64_t bytes = 0;        // held now
        std::uint64_t blobs = 0;        // held now
        std::uint64_t files = 0;        // memfds held now
        std::uint64_t hits = 0;         // requests answered from the tier
        std::uint64_t fills = 0;        // blobs copied in
        std::uint64_t fill_errors = 0;  // copies that failed (unreadable, wrong digest, no memory)
        std::uint64_t evictions = 0;    // blobs the policy let go to stay within the limits
        std::uint64_t max_bytes = 0;
        std::uint64_t max_blob_bytes = 0;
    };

    explicit HotBlobs(Options options);
    HotBlobs(const HotBlobs&) = delete;
    HotBlobs& operator=(const HotBlobs&) = delete;

    bool enabled() const { return m_options.max_bytes > 0; }

    // The copy of `digest`, counted as a hit; null when the tier has none.
    std::shared_ptr<const HotBlob> find(const store::Digest& digest);
    // Whether a stored blob of `size` bytes should be copied in now: the tier is on, the blob
    // fits (under max_blob_bytes and max_bytes, and, unless it is kept inline, the tier may
    // hold a file), it is not held and no copy of it is under way. True claims the copy: the
    // caller then ends it with insert() or abandon().
    bool claim(const store::Digest& digest, std::uint64_t size);
    // Ends a claim with the copy, sealed for `digest`, and lets the policy make room. The copy
    // is dropped if the blob was erased meanwhile (or the copy is of another digest). Returns
    // whether the tier holds it now.
    bool insert(const store::Digest& digest, std::shared_ptr<const HotBlob> blob);
    // Ends a claim without a copy (counted as a fill error).
    void abandon(const store::Digest& digest);
    // The blob left the store: its copy goes, and a claim under way ends without one.
    void erase(const store::Digest& digest);

    Stats stats() const;

  private:
    // Drops the policy's victims until the tier is within its limits; with m_mutex held. The
    // blobs go into `dropped`, to be destroyed (their files closed) after the lock.
    void make_room(std::vector<std::shared_ptr<const HotBlob>>& dropped);
    void forget(std::unordered_map<store::Digest, std::shared_ptr<const HotBlob>,
                                   store::DigestHash>::iterator it);

    const Options m_options;
    mutable std::mutex m_mutex;
    std::unordered_map<store::Digest, std::shared_ptr<const HotBlob>, store::DigestHash> m_blobs;
    // Claims under way; false once the blob was erased during its copy.
    std::unordered_map<store::Digest, bool, store::DigestHash> m_claims;
    std::unique_ptr<VictimPolicy> m_policy;
    Stats m_stats;
};

}  // namespace cache
