#pragma once
// Lets Catch show an HttpResult in a failed check (the reply's status or the failure's
// message), instead of the result's own operator<<, which needs one for the value and error.

#include <string>

#include <catch2/catch.hpp>

#include "proxy/cli/http_client.hpp"

namespace Catch {

template <class T>
struct StringMaker<boost::system::result<T, proxy::cli::HttpFailure>> {
    static std::string convert(const boost::system::result<T, proxy::cli::HttpFailure>& r) {
        if (!r) return "failure: " + r.error().message;
        if constexpr (std::is_same_v<T, proxy::cli::HttpReply>)
            return "HTTP " + std::to_string(r->status);
        return "a value";
    }
};

}  // namespace Catch
