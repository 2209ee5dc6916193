#include "store/record_tables.hpp"

#include "store/errors.hpp"
#include "store/lmdb.hpp"
#include "store/records.hpp"

namespace store {

result<void> RecordTables::write(std::function<int(MDB_txn*)> apply) {
    if (int rc = m_queue.run(std::move(apply)); rc != 0) return lmdb_error(rc);
    return {};
}

result<void> RecordTables::put_tag(const TagKey& key, const TagRecord& record) {
    std::string k = tag_key(key);
    if (k.size() > m_max_key) return errc::too_large;
    std::string v = encode_tag(record);
    return write([&](MDB_txn* txn) {
        MDB_val kv = lmdb::val(k);
        MDB_val vv = lmdb::val(v);
        return mdb_put(txn, m_dbs.tags, &kv, &vv, 0);
    });
}

result<std::optional<TagRecord>> RecordTables::get_tag(const TagKey& key) {
    std::string k = tag_key(key);
    if (k.size() > m_max_key) return std::optional<TagRecord>();
    lmdb::ReadTxn t(m_env);
    if (t.rc != 0) return lmdb_error(t.rc);
    MDB_val v;
    int rc = lmdb::get(t.get(), m_dbs.tags, k, v);
    if (rc == MDB_NOTFOUND) return std::optional<TagRecord>();
    if (rc != 0) return lmdb_error(rc);
    auto rec = decode_tag(lmdb::view(v));
    if (!rec) return errc::corrupt;
    return rec;
}

result<std::vector<std::string>> RecordTables::list_tags(const std::string& upstream,
                                                         const std::string& repo) {
    const std::string prefix = tag_prefix(upstream, repo);
    std::vector<std::string> out;
    lmdb::ReadTxn t(m_env);
    if (t.rc != 0) return lmdb_error(t.rc);
    lmdb::Cursor cursor;
    if (int rc = cursor.open(t.get(), m_dbs.tags); rc != 0) return lmdb_error(rc);
    MDB_val k = lmdb::val(prefix);
    MDB_val v;
    int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && lmdb::view(k).starts_with(prefix);
         rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
        out.emplace_back(lmdb::view(k).substr(prefix.size()));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc);
    return out;
}

result<void> RecordTables::put_refs(const Digest& manifest, const std::vector<Digest>& children) {
    std::string k = blob_key(manifest);
    std::string v = encode_refs(children);
    return write([&](MDB_txn* txn) {
        MDB_val kv = lmdb::val(k);
        MDB_val vv = lmdb::val(v);
        return mdb_put(txn, m_dbs.refs, &kv, &vv, 0);
    });
}

result<std::vector<Digest>> RecordTables::get_refs(const Digest& manifest) {
    lmdb::ReadTxn t(m_env);
    if (t.rc != 0) return lmdb_error(t.rc);
    MDB_val v;
    int rc = lmdb::get(t.get(), m_dbs.refs, blob_key(manifest), v);
    if (rc == MDB_NOTFOUND) return std::vector<Digest>();
    if (rc != 0) return lmdb_error(rc);
    auto refs = decode_refs(lmdb::view(v));
    if (!refs) return errc::corrupt;
    return std::move(*refs);
}

result<void> RecordTables::put_record(std::string_view table, std::string_view key,
                                      std::string_view value) {
    if (table.find('\0') != std::string_view::npos) return errc::invalid_argument;
    std::string k = record_key(table, key);
    if (k.size() > m_max_key) return errc::too_large;
    std::string v(value);
    return write([&](MDB_txn* txn) {
        MDB_val kv = lmdb::val(k);
        MDB_val vv = lmdb::val(v);
        return mdb_put(txn, m_dbs.records, &kv, &vv, 0);
    });
}

result<std::optional<std::string>> RecordTables::get_record(std::string_view table,
                                                            std::string_view key) {
    if (table.find('\0') != std::string_view::npos) return errc::invalid_argument;
    std::string k = record_key(table, key);
    if (k.size() > m_max_key) return std::optional<std::string>();
    lmdb::ReadTxn t(m_env);
    if (t.rc != 0) return lmdb_error(t.rc);
    MDB_val v;
    int rc = lmdb::get(t.get(), m_dbs.records, k, v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc != 0) return lmdb_error(rc);
    return std::optional<std::string>(std::string(lmdb::view(v)));
}

result<void> RecordTables::delete_record(std::string_view table, std::string_view key) {
    if (table.find('\0') != std::string_view::npos) return errc::invalid_argument;
    std::string k = record_key(table, key);
    if (k.size() > m_max_key) return {};
    return write([&](MDB_txn* txn) {
        MDB_val kv = lmdb::val(k);
        int rc = mdb_del(txn, m_dbs.records, &kv, nullptr);
        return rc == MDB_NOTFOUND ? 0 : rc;
    });
}

result<std::vector<std::pair<std::string, std::string>>> RecordTables::list_records(
    std::string_view table, std::string_view prefix) {
    if (table.find('\0') != std::string_view::npos) return errc::invalid_argument;
    const std::string full = record_key(table, prefix);
    const std::size_t strip = table.size() + 1;
    std::vector<std::pair<std::string, std::string>> out;
    lmdb::ReadTxn t(m_env);
    if (t.rc != 0) return lmdb_error(t.rc);
    lmdb::Cursor cursor;
    if (int rc = cursor.open(t.get(), m_dbs.records); rc != 0) return lmdb_error(rc);
    MDB_val k = lmdb::val(full);
    MDB_val v;
    int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && lmdb::view(k).starts_with(full);
         rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
        out.emplace_back(std::string(lmdb::view(k).substr(strip)), std::string(lmdb::view(v)));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc);
    return out;
}

}  // namespace store
