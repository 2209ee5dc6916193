#pragma once
// The referrers answers kept in the store: for a subject manifest in one repository of one
// upstream, the digest of the stored OCI index that answered `GET /v2/<repo>/referrers/<subject>`
// and when it was fetched. They live in the records table "referrers" under
// "<subject> <upstream> <repo>", so every answer about one subject is one prefix scan away: a
// pin of an image finds its referrers that way (see pins.hpp).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "store/blob_store.hpp"

namespace cache {

struct ReferrersRecord {
    store::Digest index;          // the stored answer (an OCI image index)
    std::int64_t fetched_at = 0;  // seconds since the epoch
};

struct ReferrersKey {
    store::Digest subject;
    std::string upstream;  // the upstream's name
    std::string repo;
};

boost::system::result<void> put_referrers(store::BlobStore& store, const ReferrersKey& key,
                                          const ReferrersRecord& record);
// A miss is std::nullopt; a record that does not decode is a miss too.
boost::system::result<std::optional<ReferrersRecord>> get_referrers(store::BlobStore& store,
                                                                    const ReferrersKey& key);
// The stored answers about `subject`, in every upstream and repository.
boost::system::result<std::vector<store::Digest>> referrers_indexes(store::BlobStore& store,
                                                                    const store::Digest& subject);

}  // namespace cache
