#pragma once
// The small tables beside the blobs: tags, refs and named records (layout in records.hpp).
// Reads use their own short read transaction; writes go through the store's writer queue and
// return once committed. Safe to call from any thread but the writer's.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lmdb.h>

#include "store/blob_store.hpp"
#include "store/store_env.hpp"
#include "store/write_queue.hpp"

namespace store {

class RecordTables {
  public:
    // `env` and `queue` must outlive this object.
    RecordTables(const StoreEnv& env, WriteQueue& queue)
        : m_env(env.get()), m_dbs(env.dbs()), m_max_key(env.max_key()), m_queue(queue) {}

    // errc::too_large when the key is longer than LMDB takes (StoreEnv::max_key).
    result<void> put_tag(const TagKey& key, const TagRecord& record);
    result<std::optional<TagRecord>> get_tag(const TagKey& key);
    // Tags stored for one repository, sorted.
    result<std::vector<std::string>> list_tags(const std::string& upstream,
                                               const std::string& repo);

    result<void> put_refs(const Digest& manifest, const std::vector<Digest>& children);
    // No refs stored is an empty list.
    result<std::vector<Digest>> get_refs(const Digest& manifest);

    // errc::invalid_argument when `table` contains a NUL byte; errc::too_large when the key is
    // longer than LMDB takes.
    result<void> put_record(std::string_view table, std::string_view key, std::string_view value);
    result<std::optional<std::string>> get_record(std::string_view table, std::string_view key);
    // Deleting a missing record succeeds.
    result<void> delete_record(std::string_view table, std::string_view key);
    // Records whose key starts with `prefix`, in key order.
    result<std::vector<std::pair<std::string, std::string>>> list_records(std::string_view table,
                                                                          std::string_view prefix);

  private:
    result<void> write(std::function<int(MDB_txn*)> apply);

    MDB_env* m_env;
    Databases m_dbs;
    std::size_t m_max_key;
    WriteQueue& m_queue;
};

}  // namespace store
