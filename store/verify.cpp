#include "store/verify.hpp"

#include <vector>

#include "store/errors.hpp"
#include "store/sha256.hpp"

namespace store {

result<VerifyReport> verify(BlobStore& store, const VerifyCallback& on_blob) {
    std::vector<std::pair<Digest, BlobInfo>> blobs;
    if (auto r = store.for_each_blob(
            [&](const Digest& d, const BlobInfo& info) { blobs.emplace_back(d, info); });
        !r) {
        return r.error();
    }
    VerifyReport report;
    ChunkBuffer chunk;
    for (const auto& [digest, info] : blobs) {
        boost::system::error_code problem;
        Sha256 sha;
        std::uint64_t seen = 0;
        for (std::uint32_t i = 0; i < info.chunks && !problem; ++i) {
            auto r = store.read_chunk(digest, i, chunk);
            if (!r) {
                problem = r.error();
                break;
            }
            sha.update(chunk.span());
            seen += chunk.size();
        }
        if (problem == errc::not_found) continue;  // removed meanwhile (eviction)
        if (!problem && (seen != info.size || sha.finish() != digest)) {
            problem = errc::digest_mismatch;
        }
        ++report.checked;
        report.bytes += seen;
        if (problem == errc::corrupt || problem == errc::digest_mismatch ||
            problem == errc::out_of_range) {
            ++report.corrupt;
            if (store.remove(digest)) ++report.removed;
        } else if (problem) {
            ++report.errors;
        }
        if (on_blob) on_blob(digest, info, problem);
    }
    if (auto r = store.flush(); !r) return r.error();
    return report;
}

}  // namespace store
