#include "cache/referrer_records.hpp"

#include <boost/json.hpp>

namespace cache {

namespace json = boost::json;

namespace {

constexpr std::string_view k_table = "referrers";

std::string key_text(const ReferrersKey& key) {
    return key.subject.str() + ' ' + key.upstream + ' ' + key.repo;
}

std::optional<ReferrersRecord> decode(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    const auto* index = o.if_contains("index");
    const auto* at = o.if_contains("fetched_at");
    if (!index || !index->is_string() || !at || !at->is_int64()) return std::nullopt;
    const auto digest = store::Digest::parse(index->get_string());
    if (!digest) return std::nullopt;
    return ReferrersRecord{*digest, at->get_int64()};
}

}  // namespace

boost::system::result<void> put_referrers(store::BlobStore& store, const ReferrersKey& key,
                                          const ReferrersRecord& record) {
    const json::object o{{"index", record.index.str()}, {"fetched_at", record.fetched_at}};
    return store.put_record(k_table, key_text(key), json::serialize(o));
}

boost::system::result<std::optional<ReferrersRecord>> get_referrers(store::BlobStore& store,
                                                                    const ReferrersKey& key) {
    auto text = store.get_record(k_table, key_text(key));
    if (!text) return text.error();
    if (!*text) return std::optional<ReferrersRecord>{};
    return decode(**text);
}

boost::system::result<std::vector<store::Digest>> referrers_indexes(store::BlobStore& store,
                                                                    const store::Digest& subject) {
    auto rows = store.list_records(k_table, subject.str() + ' ');
    if (!rows) return rows.error();
    std::vector<store::Digest> out;
    for (const auto& [key, value] : *rows)
        if (auto record = decode(value)) out.push_back(record->index);
    return out;
}

}  // namespace cache
