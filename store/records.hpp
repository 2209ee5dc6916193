#pragma once
// On-disk keys and values of the store's LMDB databases (see ARCHITECTURE.md, store layout).
//
//   blobs    digest (32 raw bytes)            -> BlobRecord
//   chunks   digest ‖ u32 BE chunk index      -> chunk payload only (raw or zstd frame)
//   tags     upstream ‖ 0 ‖ repo ‖ 0 ‖ tag     -> digest ‖ i64 fetched_at ‖ media type
//   refs     manifest digest                  -> child digests, 32 bytes each
//   records  table ‖ 0 ‖ key                  -> opaque value
//
// A chunk's codec and CRC-32C live in its blob's record, not in the chunk value, so a raw
// chunk of k_chunk_size bytes fills exactly 256 overflow pages.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/blob_store.hpp"
#include "store/chunk_entry.hpp"

namespace store {

enum class BlobState : std::uint8_t { writing = 1, complete = 2 };

struct BlobRecord {
    BlobState state = BlobState::writing;
    BlobInfo info;
    std::vector<ChunkEntry> chunks;  // empty while writing
};

std::string blob_key(const Digest& d);
std::string chunk_key(const Digest& d, std::uint32_t index);
std::optional<Digest> digest_from_key(std::string_view key);  // first 32 bytes of a key

std::string encode_blob(const BlobRecord& r);
// Decodes the record; the chunk table only if `with_chunks`.
std::optional<BlobRecord> decode_blob(std::string_view v, bool with_chunks);
// The state without decoding the rest.
std::optional<BlobState> blob_state(std::string_view v);
// Entry `index` of the chunk table of an encoded record.
std::optional<ChunkEntry> blob_chunk_entry(std::string_view v, std::uint32_t index);

// Rewrites last_access and adds to hits in an encoded record, leaving the rest as it is.
void patch_blob_access(std::string& v, std::int64_t last_access, std::uint64_t add_hits);

std::string tag_prefix(std::string_view upstream, std::string_view repo);
std::string tag_key(const TagKey& k);
std::string encode_tag(const TagRecord& r);
std::optional<TagRecord> decode_tag(std::string_view v);

std::string encode_refs(const std::vector<Digest>& children);
std::optional<std::vector<Digest>> decode_refs(std::string_view v);

std::string record_key(std::string_view table, std::string_view key);

}  // namespace store
