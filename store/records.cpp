#include "store/records.hpp"

#include <cstring>

#include "store/encoding.hpp"

namespace store {
namespace {

constexpr std::uint8_t k_blob_version = 1;
// version, state, size, stored, pages, chunks, created, last_access, hits, pins, media length
constexpr std::size_t k_blob_header = 1 + 1 + 8 + 8 + 8 + 4 + 8 + 8 + 8 + 4 + 2;
constexpr std::size_t k_chunk_entry = 5;

std::string_view raw(const Digest& d) {
    return {reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size()};
}

}  // namespace

std::string blob_key(const Digest& d) {
    return std::string(raw(d));
}

std::string chunk_key(const Digest& d, std::uint32_t index) {
    std::string k(raw(d));
    ByteWriter(k).put(index);
    return k;
}

std::optional<Digest> digest_from_key(std::string_view key) {
    Digest d;
    if (key.size() < d.bytes.size()) return std::nullopt;
    std::memcpy(d.bytes.data(), key.data(), d.bytes.size());
    return d;
}

std::string encode_blob(const BlobRecord& r) {
    std::string out;
    out.reserve(k_blob_header + r.info.media_type.size() + r.chunks.size() * k_chunk_entry);
    ByteWriter w(out);
    w.put(k_blob_version).put(static_cast<std::uint8_t>(r.state));
    w.put(r.info.size).put(r.info.stored_bytes).put(r.info.pages).put(r.info.chunks);
    w.put(r.info.created).put(r.info.last_access).put(r.info.hits).put(r.info.pins);
    const auto media = std::string_view(r.info.media_type).substr(0, 0xffff);
    w.put(static_cast<std::uint16_t>(media.size())).bytes(media);
    for (const auto& c : r.chunks)
        w.put(static_cast<std::uint8_t>(c.codec)).put(c.crc);
    return out;
}

std::optional<BlobRecord> decode_blob(std::string_view v, bool with_chunks) {
    ByteReader rd(v);
    BlobRecord r;
    if (rd.get<std::uint8_t>() != k_blob_version) return std::nullopt;
    const auto state = rd.get<std::uint8_t>();
    if (state != static_cast<std::uint8_t>(BlobState::writing) &&
        state != static_cast<std::uint8_t>(BlobState::complete)) {
        return std::nullopt;
    }
    r.state = static_cast<BlobState>(state);
    r.info.size = rd.get<std::uint64_t>();
    r.info.stored_bytes = rd.get<std::uint64_t>();
    r.info.pages = rd.get<std::uint64_t>();
    r.info.chunks = rd.get<std::uint32_t>();
    r.info.created = rd.get<std::int64_t>();
    r.info.last_access = rd.get<std::int64_t>();
    r.info.hits = rd.get<std::uint64_t>();
    r.info.pins = rd.get<std::uint32_t>();
    r.info.media_type = std::string(rd.bytes(rd.get<std::uint16_t>()));
    if (with_chunks && r.state == BlobState::complete) {
        r.chunks.resize(r.info.chunks);
        for (auto& c : r.chunks) {
            c.codec = static_cast<Codec>(rd.get<std::uint8_t>());
            c.crc = rd.get<std::uint32_t>();
        }
    }
    if (rd.failed()) return std::nullopt;
    return r;
}

std::optional<BlobState> blob_state(std::string_view v) {
    if (v.size() < 2 || static_cast<std::uint8_t>(v[0]) != k_blob_version) return std::nullopt;
    return static_cast<BlobState>(static_cast<std::uint8_t>(v[1]));
}

std::optional<ChunkEntry> blob_chunk_entry(std::string_view v, std::uint32_t index) {
    if (v.size() < k_blob_header) return std::nullopt;
    ByteReader media_len(v.substr(k_blob_header - 2, 2));
    const std::size_t at =
        k_blob_header + media_len.get<std::uint16_t>() + std::size_t{index} * k_chunk_entry;
    if (v.size() < at + k_chunk_entry) return std::nullopt;
    ByteReader rd(v.substr(at, k_chunk_entry));
    ChunkEntry c;
    c.codec = static_cast<Codec>(rd.get<std::uint8_t>());
    c.crc = rd.get<std::uint32_t>();
    return c;
}

void patch_blob_access(std::string& v, std::int64_t last_access, std::uint64_t add_hits) {
    constexpr std::size_t k_last_access_at = 1 + 1 + 8 + 8 + 8 + 4 + 8;
    constexpr std::size_t k_hits_at = k_last_access_at + 8;
    if (v.size() < k_blob_header) return;
    const auto hits = ByteReader(std::string_view(v).substr(k_hits_at, 8)).get<std::uint64_t>();
    std::string fields;
    ByteWriter(fields).put(last_access).put(hits + add_hits);
    v.replace(k_last_access_at, fields.size(), fields);
}

std::string tag_prefix(std::string_view upstream, std::string_view repo) {
    std::string k;
    k.reserve(upstream.size() + repo.size() + 2);
    k.append(upstream).push_back('\0');
    k.append(repo).push_back('\0');
    return k;
}

std::size_t TagKeyHash::operator()(const TagKey& key) const noexcept {
    const std::hash<std::string_view> hash;
    std::size_t h = hash(key.upstream);
    for (const std::string_view part : {std::string_view(key.repo), std::string_view(key.tag)})
        h = h * 31 + hash(part);
    return h;
}

std::string tag_key(const TagKey& key) {
    return tag_prefix(key.upstream, key.repo) + key.tag;
}

std::string encode_tag(const TagRecord& r) {
    std::string out(raw(r.digest));
    ByteWriter(out).put(r.fetched_at).bytes(r.media_type);
    return out;
}

std::optional<TagRecord> decode_tag(std::string_view v) {
    TagRecord r;
    ByteReader rd(v);
    auto d = rd.bytes(r.digest.bytes.size());
    r.fetched_at = rd.get<std::int64_t>();
    if (rd.failed()) return std::nullopt;
    std::memcpy(r.digest.bytes.data(), d.data(), d.size());
    r.media_type = std::string(rd.rest());
    return r;
}

std::string encode_refs(const std::vector<Digest>& children) {
    std::string out;
    out.reserve(children.size() * 32);
    for (const auto& c : children)
        out.append(raw(c));
    return out;
}

std::optional<std::vector<Digest>> decode_refs(std::string_view v) {
    if (v.size() % 32 != 0) return std::nullopt;
    std::vector<Digest> out(v.size() / 32);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::memcpy(out[i].bytes.data(), v.data() + i * 32, 32);
    }
    return out;
}

std::string record_key(std::string_view table, std::string_view key) {
    std::string k;
    k.reserve(table.size() + 1 + key.size());
    k.append(table).push_back('\0');
    k.append(key);
    return k;
}

}  // namespace store
