#pragma once
// Which digests belong to which repository of a passthrough upstream, kept in the store so the
// answer survives a restart: a digest the upstream guards stays guarded (see
// proxy/registry/passthrough.hpp). One row per member in the records table "membership" under
// "<digest> <upstream> <repo>" (the upstream's name), value empty: whether a digest belongs to
// a repository is an exact lookup, whether it belongs to any is one prefix scan.
//
// Rows outlive the blobs they name: an evicted blob keeps its rows, which is harmless (it stays
// guarded, and fetching it again through the repository adds what is there already).

#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "store/blob_store.hpp"

namespace cache {

struct MemberKey {
    store::Digest digest;
    std::string upstream;  // the upstream's name
    std::string repo;
};

boost::system::result<void> put_member(store::BlobStore& store, const MemberKey& key);
boost::system::result<bool> is_member(store::BlobStore& store, const MemberKey& key);
// A member of some repository of some upstream.
boost::system::result<bool> is_guarded(store::BlobStore& store, const store::Digest& digest);

}  // namespace cache
