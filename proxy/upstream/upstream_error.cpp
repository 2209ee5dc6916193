#include "proxy/upstream/upstream_error.hpp"

#include <string>

namespace proxy::upstream {

namespace {

class ErrorCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "upstream"; }
    std::string message(int value) const override {
        switch (static_cast<Error>(value)) {
            case Error::bad_url:
                return "not a usable http or https URL";
            case Error::bad_ca_file:
                return "the upstream's ca_file could not be loaded";
            case Error::too_many_redirects:
                return "too many redirects";
            case Error::token_refused:
                return "the token endpoint refused the token request";
            case Error::bad_token_response:
                return "the token endpoint's answer holds no token";
            case Error::body_too_large:
                return "the upstream's answer is too large";
            case Error::bad_challenge:
                return "the upstream's authentication challenge cannot be answered";
            case Error::circuit_open:
                return "the upstream is failing; its circuit breaker is open";
        }
        return "upstream error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const ErrorCategory category;
    return category;
}

}  // namespace proxy::upstream
