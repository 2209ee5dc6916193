#pragma once
// How environments are kept in the store. Two record tables:
//
//   envs       key: the 64-hex environment hash
//              value: {"hash", "created", "spec": <environment record> | null,
//                      "image": {"reference", "digest", "upstream", "repository",
//                                "media_type", "registered"} | null,
//                      "digest": <image manifest digest, present only when mapped>}
//              ("digest" at the top level is what eviction pins on an environment hash read.)
//   env_names  key: name '\0' version
//              value: the environment record (name, version, hash, canonical, bundle, base,
//                     created) plus "sequence": 1 for a name's first version, then 2, 3, ...
//
// Named versions are never changed once written; an envs entry gains its image when a builder
// registers one, and its spec when a spec with that hash is resolved or registered.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/record.hpp"
#include "store/blob_store.hpp"

namespace proxy::environments {

inline constexpr std::string_view k_envs_table = "envs";
inline constexpr std::string_view k_names_table = "env_names";

// The image a builder registered for an environment hash.
struct MappedImage {
    std::string reference;  // as registered, normalised: "localhost:5000/team/app:1"
    std::string digest;     // manifest digest, "sha256:..."
    std::string upstream;   // the envcache upstream that serves it
    std::string repository;
    std::string media_type;
    std::int64_t registered = 0;  // unix seconds
};

// What "envs" holds under a hash.
struct HashEntry {
    std::string hash;
    std::optional<environment::EnvironmentRecord> spec;  // unknown if only an image was mapped
    std::optional<MappedImage> image;
    std::int64_t created = 0;  // unix seconds
};

// What "env_names" holds under name '\0' version.
struct NamedEntry {
    environment::EnvironmentRecord record;
    std::uint64_t sequence = 0;
};

// The env_names key of a version.
std::string named_key(std::string_view name, std::string_view version);

// A miss is std::nullopt; a record that does not parse is errc::bad_message.
boost::system::result<std::optional<HashEntry>> load_hash_entry(store::BlobStore& store,
                                                                std::string_view hash);
boost::system::result<void> save_hash_entry(store::BlobStore& store, const HashEntry& entry);

boost::system::result<std::optional<NamedEntry>> load_named(store::BlobStore& store,
                                                            std::string_view name,
                                                            std::string_view version);
boost::system::result<void> save_named(store::BlobStore& store, const NamedEntry& entry);

// The versions of one name, oldest registration first (by sequence).
boost::system::result<std::vector<NamedEntry>> list_versions(store::BlobStore& store,
                                                             std::string_view name);
// Every named version, grouped by name in key order, each name's versions by sequence.
boost::system::result<std::vector<NamedEntry>> list_all_named(store::BlobStore& store);

}  // namespace proxy::environments
