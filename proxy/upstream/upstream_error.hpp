#pragma once
// Errors the upstream client reports besides those of the network, TLS and HTTP layers.

#include <type_traits>

#include <boost/system/error_code.hpp>

namespace proxy::upstream {

enum class Error {
    bad_url = 1,         // the configured url or a redirect target is not an http(s) URL
    bad_ca_file,         // the configured ca_file could not be loaded
    too_many_redirects,  // more redirects than the client follows
    token_refused,       // the token endpoint answered with something other than 200
    bad_token_response,  // the token endpoint's answer has no token
    body_too_large,      // a body the client reads itself (token, error) exceeded its limit
    bad_challenge,       // a 401's WWW-Authenticate challenge the client cannot answer
    circuit_open,        // the upstream's circuit breaker is open: the request was not sent
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(Error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace proxy::upstream

template <>
struct boost::system::is_error_code_enum<proxy::upstream::Error> : std::true_type {};
