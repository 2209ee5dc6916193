#include "proxy/environments/image_resolver.hpp"

namespace proxy::environments {

namespace {

class ResolveCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "envcache.resolve"; }
    std::string message(int ev) const override {
        switch (static_cast<resolve_errc>(ev)) {
            case resolve_errc::not_found:
                return "image not found upstream";
            case resolve_errc::no_upstream:
                return "no configured upstream serves this registry";
        }
        return "unknown resolve error";
    }
};

}  // namespace

const boost::system::error_category& resolve_category() {
    static const ResolveCategory category;
    return category;
}

boost::system::error_code make_error_code(resolve_errc e) {
    return {static_cast<int>(e), resolve_category()};
}

}  // namespace proxy::environments
