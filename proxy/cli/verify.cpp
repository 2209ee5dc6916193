#include "store/verify.hpp"

#include <iostream>
#include <optional>
#include <string>

#include "config/load.hpp"
#include "proxy/cli/commands.hpp"
#include "store/blob_store.hpp"
#include "store/errors.hpp"

namespace proxy::cli {

namespace {

constexpr std::string_view k_verify_usage =
    "usage: envcache verify --config FILE\n"
    "Re-hashes every stored blob and removes the corrupt ones. Exit status: 0 all intact,\n"
    "1 corrupt blobs were found (and removed) or a blob could not be checked, 2 usage or\n"
    "config error.\n";

std::optional<std::string> verify_config_path(Args args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--config" && i + 1 < args.size()) return std::string(args[i + 1]);
        if (args[i].starts_with("--config=")) return std::string(args[i].substr(9));
    }
    return std::nullopt;
}

}  // namespace

int verify(Args args) {
    const auto path = verify_config_path(args);
    if (!path) {
        std::cerr << k_verify_usage;
        return 2;
    }
    auto loaded = config::load(*path);
    if (!loaded) {
        std::cerr << "envcache: " << loaded.error().message() << "\n";
        return 2;
    }
    const config::Config& config = *loaded;

    store::Options options;
    options.path = config.storage.path;
    options.max_size = config.storage.max_size;
    options.zstd_level = config.storage.compression.level;
    options.min_saving = config.storage.compression.min_saving;
    store::RecoveryReport recovery;
    auto opened = store::BlobStore::open(options, &recovery);
    if (!opened) {
        std::cerr << "envcache: cannot open the store at " << options.path << ": "
                  << opened.error().message() << "\n";
        return 1;
    }
    auto& store = **opened;
    std::cout << "store " << options.path.string() << ": " << recovery.blobs << " blobs, "
              << recovery.partial_removed << " partial blobs removed at open\n";

    auto report = store::verify(store, [](const store::Digest& digest, const store::BlobInfo& info,
                                          boost::system::error_code problem) {
        if (!problem) return;
        const bool corrupt =
            problem == store::errc::corrupt || problem == store::errc::digest_mismatch;
        std::cout << (corrupt ? "corrupt " : "unreadable ") << digest.str() << " (" << info.size
                  << " bytes, " << info.media_type << "): " << problem.message() << "\n";
    });
    if (!report) {
        std::cerr << "envcache: verify failed: " << report.error().message() << "\n";
        return 1;
    }
    std::cout << "checked " << report->checked << " blobs (" << report->bytes
              << " bytes): " << report->corrupt << " corrupt, " << report->removed << " removed, "
              << report->errors << " unreadable\n";
    return report->corrupt > 0 || report->errors > 0 ? 1 : 0;
}

}  // namespace proxy::cli
