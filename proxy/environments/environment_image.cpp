#include "proxy/environments/environment_image.hpp"

#include "environment/registry.hpp"
#include "proxy/environments/environment_records.hpp"

namespace proxy::environments {

boost::system::result<std::optional<EnvironmentImage>> image_for_hash(store::BlobStore& store,
                                                                      std::string_view hash) {
    if (!environment::is_environment_hash(hash)) return std::optional<EnvironmentImage>{};
    auto entry = load_hash_entry(store, hash);
    if (!entry) return entry.error();
    if (!*entry || !(*entry)->image) return std::optional<EnvironmentImage>{};
    const auto& image = *(*entry)->image;
    return std::optional<EnvironmentImage>(EnvironmentImage{
        image.upstream, image.repository, image.digest, image.reference, image.media_type});
}

std::string environment_not_built_message(std::string_view hash) {
    return "environment " + std::string(hash) + " has not been built (no image registered for it)";
}

std::optional<std::string_view> hash_of_pull_repository(std::string_view repository) {
    if (!repository.starts_with(k_pull_repository_prefix)) return std::nullopt;
    auto rest = repository.substr(k_pull_repository_prefix.size());
    if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
    return rest;
}

}  // namespace proxy::environments
