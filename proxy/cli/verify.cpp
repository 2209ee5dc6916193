#include "store/verify.hpp"

#include <iostream>
#include <optional>
#include <string>

#include "config/load.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/store_setup.hpp"
#include "store/blob_store.hpp"
#include "store/errors.hpp"

namespace proxy::cli {

namespace {

constexpr std::string_view k_verify_usage =
    "usage: envcache verify --config FILE\n"
    "Re-hashes every stored blob and removes the corrupt ones. Exit status: 0 all intact,\n"
    "1 corrupt blobs were found (and removed) or a blob could not be checked, 2 usage or\n"
    "config error.\n";

}  // namespace

int verify(Args args) {
    const auto path = config_path(args);
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

    store::RecoveryReport recovery;
    const auto opened = open_configured_store(config, recovery);
    if (!opened) return 1;
    auto& store = *opened;
    std::cout << "store " << config.storage.path.string() << ": " << recovery.blobs << " blobs, "
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
