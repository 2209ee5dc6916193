#include "proxy/cli/store_setup.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string_view>

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
    options.map_size = config.storage.map_size;
    options.zstd_level = config.storage.compression.level;
    options.min_saving = config.storage.compression.min_saving;
    options.writer_nice = config.storage.background_nice;
    // Test hooks for a slow disk (store::Options); never set in production, absent from the
    // config file on purpose.
    if (const char* delay = std::getenv("ENVCACHE_TEST_COMMIT_DELAY_MS")) {
        unsigned ms = 0;
        const std::string_view text(delay);
        if (std::from_chars(text.data(), text.data() + text.size(), ms).ec == std::errc{})
            options.test_commit_delay = std::chrono::milliseconds(ms);
    }
    if (const char* gate = std::getenv("ENVCACHE_TEST_COMMIT_GATE"))
        options.test_commit_gate = gate;
    auto opened = store::BlobStore::open(options, &recovery);
    if (!opened) {
        std::cerr << "envcache: cannot open the store at " << options.path << ": "
                  << opened.error().message() << "\n";
        return nullptr;
    }
    return std::move(*opened);
}

}  // namespace proxy::cli
