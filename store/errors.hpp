#pragma once
// Error codes of the store. Callers compare with `ec == store::errc::digest_mismatch`.

#include <type_traits>

#include <boost/system/error_code.hpp>

namespace store {

enum class errc {
    digest_mismatch = 1,  // the bytes written do not hash to the expected digest
    not_found,            // the blob (or chunk) does not exist or is not complete
    exists,               // begin() for a blob that is already complete: serve it instead
    busy,                 // another writer is writing the same digest right now
    map_full,             // the LMDB map is full; the write was abandoned
    disk_full,            // the file system is full; the write was abandoned
    corrupt,              // a chunk checksum or decoded size did not match; never served
    io_error,             // any other LMDB or file system failure
    too_large,            // a key, value or blob exceeds what the store accepts
    out_of_range,         // a range read past the end of the blob
    invalid_argument,     // e.g. a table name containing a NUL byte
    aborted,              // the writer failed earlier or the store is closing
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

// Maps an LMDB return code (MDB_* or errno) to a store error.
boost::system::error_code lmdb_error(int rc) noexcept;

}  // namespace store

namespace boost::system {
template <>
struct is_error_code_enum<store::errc> : std::true_type {};
}  // namespace boost::system
