#include "store/errors.hpp"

#include <cerrno>
#include <string>

#include <lmdb.h>

namespace store {
namespace {

class StoreCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "envcache.store"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::digest_mismatch:
                return "content does not match its digest";
            case errc::not_found:
                return "blob not found";
            case errc::exists:
                return "blob already stored";
            case errc::busy:
                return "blob is being written by another writer";
            case errc::map_full:
                return "store map is full";
            case errc::disk_full:
                return "no space left on device";
            case errc::corrupt:
                return "stored data is corrupt";
            case errc::io_error:
                return "store I/O error";
            case errc::too_large:
                return "key or value too large";
            case errc::out_of_range:
                return "range outside the blob";
            case errc::invalid_argument:
                return "invalid argument";
            case errc::aborted:
                return "write aborted";
        }
        return "unknown store error";
    }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
    static const StoreCategory category;
    return category;
}

boost::system::error_code lmdb_error(int rc) noexcept {
    switch (rc) {
        case MDB_SUCCESS:
            return {};
        case MDB_NOTFOUND:
            return errc::not_found;
        case MDB_MAP_FULL:
        case MDB_TXN_FULL:
            return errc::map_full;
        case MDB_BAD_VALSIZE:
            return errc::too_large;
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
            return errc::corrupt;
        case ENOSPC:
        case EDQUOT:
            return errc::disk_full;
        default:
            return errc::io_error;
    }
}

}  // namespace store
