#include "cache/membership_records.hpp"

namespace cache {

namespace {

constexpr std::string_view k_table = "membership";

std::string key_text(const MemberKey& key) {
    return key.digest.str() + ' ' + key.upstream + ' ' + key.repo;
}

}  // namespace

boost::system::result<void> put_member(store::BlobStore& store, const MemberKey& key) {
    return store.put_record(k_table, key_text(key), "");
}

boost::system::result<bool> is_member(store::BlobStore& store, const MemberKey& key) {
    auto value = store.get_record(k_table, key_text(key));
    if (!value) return {boost::system::in_place_error, value.error()};
    return value->has_value();
}

boost::system::result<bool> is_guarded(store::BlobStore& store, const store::Digest& digest) {
    auto rows = store.list_records(k_table, digest.str() + ' ');
    if (!rows) return {boost::system::in_place_error, rows.error()};
    return !rows->empty();
}

}  // namespace cache
