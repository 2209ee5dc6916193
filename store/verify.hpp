#pragma once
// Scrub: re-hashes every complete blob and removes the ones whose chunks fail their checksum,
// do not decode, or do not hash to their digest.

#include <cstdint>
#include <functional>

#include <boost/system/error_code.hpp>

#include "store/blob_store.hpp"

namespace store {

struct VerifyReport {
    std::uint64_t checked = 0;
    std::uint64_t bytes = 0;    // logical bytes re-hashed
    std::uint64_t corrupt = 0;  // blobs found corrupt (and removed, unless removal failed)
    std::uint64_t removed = 0;
    std::uint64_t errors = 0;  // blobs that could not be checked (I/O errors); kept
};

// Called once per blob after it is checked: `problem` is empty when it is intact,
// errc::corrupt or errc::digest_mismatch when corrupt, or the I/O error that stopped the check.
using VerifyCallback = std::function<void(const Digest& digest, const BlobInfo& info,
                                          boost::system::error_code problem)>;

result<VerifyReport> verify(BlobStore& store, const VerifyCallback& on_blob = {});

}  // namespace store
