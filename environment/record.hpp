#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include "environment/bundle.hpp"
#include "environment/environment_hash.hpp"
#include "environment/error.hpp"

namespace environment {

struct ImageDigest {
    std::string reference;  // "registry/repo:tag" or "registry/repo@sha256:..."
    std::string digest;     // "sha256:..."
};

// What is stored for an environment: named (name + version) or anonymous (by hash only).
struct EnvironmentRecord {
    std::string name;     // empty for an anonymous environment
    std::string version;  // empty for an anonymous environment
    std::string hash;
    std::string canonical;
    Bundle bundle;                     // the spec files, so the environment can be rebuilt
    ImageDigest base;                  // the base image the hash was computed over
    std::optional<ImageDigest> image;  // the built image, once a builder registered it
    std::int64_t created = 0;          // seconds since the Unix epoch
};

// {"environment": "<yaml>", "conda_file": ..., "requirements": ..., "dockerfile": ...,
//  "includes": {"path": "text"}, "names": {"environment": "env.yml", ...}}: only
// "environment" is required; missing names get the k_default_*_name values.
boost::json::value bundle_to_json(const Bundle& bundle);
boost::system::result<Bundle, Error> bundle_from_json(const boost::json::value& json);

boost::json::value record_to_json(const EnvironmentRecord& record);
boost::system::result<EnvironmentRecord, Error> record_from_json(const boost::json::value& json);

// {"rule", "severity", "file", "line", "subject", "message"}.
boost::json::value finding_to_json(const Finding& finding);

// {"hash", "canonical", "offline", "base": {"reference", "name", "digest" | null},
//  "lint": [finding...]}.
boost::json::value hashed_to_json(const HashedEnvironment& hashed);

}  // namespace environment
