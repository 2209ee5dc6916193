#include "environment/pin_kind.hpp"

namespace environment {

std::string_view to_string(PinKind kind) {
    switch (kind) {
        case PinKind::exact:
            return "exact";
        case PinKind::partial:
            return "partial";
        case PinKind::range:
            return "range";
        case PinKind::unpinned:
            return "unpinned";
        case PinKind::direct:
            return "direct";
    }
    return "unknown";
}

}  // namespace environment
