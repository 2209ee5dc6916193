#include "proxy/cli/store_setup.hpp"

#include <iostream>

namespace proxy::cli {

std::optional<std::string> config_path(Args args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--config" && i + 1 < args.size()) return std::string(args[i + 1]);
        if (args[i].starts_with("--config=")) return std::string(args[i].substr(9));
    }
    return std::nullopt;
}

std::unique_ptr<store::BlobStore> open_configured_store(const config::Config& config,
                                                        store::RecoveryReport& recovery) {
    store::Options options;
    options.path = config.storage.path;
    options.max_size = config.storage.max_size;
    options.zstd_level = config.storage.compression.level;
    options.min_saving = config.storage.compression.min_saving;
    auto opened = store::BlobStore::open(options, &recovery);
    if (!opened) {
        std::cerr << "envcache: cannot open the store at " << options.path << ": "
                  << opened.error().message() << "\n";
        return nullptr;
    }
    return std::move(*opened);
}

}  // namespace proxy::cli
