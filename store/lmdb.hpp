#pragma once
// Move-only owners for LMDB handles. A transaction aborts in its destructor unless committed;
// a cursor closes in its destructor (and must be destroyed before its transaction commits).
// Plus the few helpers every table access uses.

#include <string_view>
#include <utility>

#include <lmdb.h>

namespace store::lmdb {

class Env {
  public:
    Env() = default;
    explicit Env(MDB_env* env) noexcept : m_env(env) {}
    Env(Env&& o) noexcept : m_env(std::exchange(o.m_env, nullptr)) {}
    Env& operator=(Env&& o) noexcept {
        if (this != &o) {
            reset();
            m_env = std::exchange(o.m_env, nullptr);
        }
        return *this;
    }
    ~Env() { reset(); }
    void reset() noexcept {
        if (m_env) mdb_env_close(std::exchange(m_env, nullptr));
    }
    MDB_env* get() const noexcept { return m_env; }

  private:
    MDB_env* m_env = nullptr;
};

class Txn {
  public:
    Txn() = default;
    Txn(Txn&& o) noexcept : m_txn(std::exchange(o.m_txn, nullptr)) {}
    Txn& operator=(Txn&& o) noexcept {
        if (this != &o) {
            abort();
            m_txn = std::exchange(o.m_txn, nullptr);
        }
        return *this;
    }
    ~Txn() { abort(); }

    // Returns an LMDB return code; on success the transaction is active.
    int begin(MDB_env* env, unsigned flags) noexcept {
        abort();
        return mdb_txn_begin(env, nullptr, flags, &m_txn);
    }
    int commit() noexcept {
        // mdb_txn_commit frees the handle even when it fails.
        return mdb_txn_commit(std::exchange(m_txn, nullptr));
    }
    void abort() noexcept {
        if (m_txn) mdb_txn_abort(std::exchange(m_txn, nullptr));
    }
    MDB_txn* get() const noexcept { return m_txn; }

  private:
    MDB_txn* m_txn = nullptr;
};

class Cursor {
  public:
    Cursor() = default;
    Cursor(Cursor&& o) noexcept : m_cursor(std::exchange(o.m_cursor, nullptr)) {}
    Cursor& operator=(Cursor&& o) noexcept {
        if (this != &o) {
            close();
            m_cursor = std::exchange(o.m_cursor, nullptr);
        }
        return *this;
    }
    ~Cursor() { close(); }
    int open(MDB_txn* txn, MDB_dbi dbi) noexcept {
        close();
        return mdb_cursor_open(txn, dbi, &m_cursor);
    }
    void close() noexcept {
        if (m_cursor) mdb_cursor_close(std::exchange(m_cursor, nullptr));
    }
    MDB_cursor* get() const noexcept { return m_cursor; }

  private:
    MDB_cursor* m_cursor = nullptr;
};

// A short read-only transaction, begun at construction: check `rc` (an LMDB code) before use.
struct ReadTxn {
    Txn txn;
    int rc = 0;
    explicit ReadTxn(MDB_env* env) noexcept { rc = txn.begin(env, MDB_RDONLY); }
    MDB_txn* get() const noexcept { return txn.get(); }
};

inline MDB_val val(std::string_view s) noexcept {
    return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(const MDB_val& v) noexcept {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// mdb_get with a string key. `out` points into the map and is valid only while `txn` is.
inline int get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, MDB_val& out) noexcept {
    MDB_val k = val(key);
    return mdb_get(txn, dbi, &k, &out);
}

}  // namespace store::lmdb
