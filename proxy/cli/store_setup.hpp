#pragma once
// What `serve` and `verify` share: the --config argument and opening the configured store.

#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "proxy/cli/commands.hpp"
#include "store/blob_store.hpp"

namespace proxy::cli {

// The value of `--config FILE` or `--config=FILE`, if given.
std::optional<std::string> config_path(Args args);

// Opens (and recovers) the store at storage.path. On failure prints why to stderr and returns
// nullptr.
std::unique_ptr<store::BlobStore> open_configured_store(const config::Config& config,
                                                        store::RecoveryReport& recovery);

}  // namespace proxy::cli
