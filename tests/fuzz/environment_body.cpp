// The JSON body of the environment API: a bundle ({"environment": "...", "conda_file": ...}),
// parsed, hashed offline and linted as POST /hash does, and the image of PUT by-hash.
#include <cstdint>

#include <boost/json.hpp>

#include "environment/environment_hash.hpp"
#include "environment/image_reference.hpp"
#include "environment/record.hpp"
#include "environment/spec.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace environment;
    boost::system::error_code ec;
    const auto value = boost::json::parse(fuzz::as_text(data, size), ec);
    if (ec || !value.is_object()) return 0;
    if (const auto* image = value.as_object().if_contains("image"); image && image->is_string())
        std::ignore = parse_image_reference(image->get_string());
    std::ignore = record_from_json(value);
    const auto bundle = bundle_from_json(value);
    if (!bundle) return 0;
    const auto spec = parse_spec(*bundle);
    if (!spec) return 0;
    std::ignore = hash_environment(*spec, {});
    return 0;
}
