#pragma once
// Helpers for the environment API tests: a real store in a temporary directory, a fake upstream
// resolver, and a synchronous way to call the coroutine handler.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "proxy/environments/environment_api.hpp"
#include "store/blob_store.hpp"
#include "tests/common/temp_dir.hpp"

namespace proxy::environments::test {

inline std::string digest_of(char c) {
    return "sha256:" + std::string(64, c);
}

// A fake upstream: references it knows resolve to fixed digests; others are "not found";
// `unreachable` makes every lookup fail like a dead upstream.
struct FakeUpstream {
    std::map<std::string, ResolvedImage> images;
    bool unreachable = false;
    std::vector<std::string> lookups;

    void add(const std::string& reference, const std::string& upstream,
             const std::string& repository, const std::string& digest) {
        images[reference] = ResolvedImage{upstream, repository, "", digest,
                                          "application/vnd.oci.image.manifest.v1+json"};
    }
};

inline boost::asio::awaitable<boost::system::result<ResolvedImage>> fake_resolve(
    FakeUpstream* upstream, std::string reference) {
    upstream->lookups.push_back(reference);
    if (upstream->unreachable)
        co_return boost::system::result<ResolvedImage>(
            make_error_code(boost::system::errc::connection_refused));
    const auto it = upstream->images.find(reference);
    if (it == upstream->images.end())
        co_return boost::system::result<ResolvedImage>(make_error_code(resolve_errc::not_found));
    co_return it->second;
}

class EnvFixture {
  public:
    EnvFixture() {
        store::Options options;
        options.path = m_dir.path();
        options.map_size = 64ull << 20;
        auto opened = store::BlobStore::open(options);
        if (!opened) throw std::runtime_error("store open failed: " + opened.error().message());
        m_store = std::move(*opened);
        upstream.add("docker.io/library/ubuntu:22.04", "docker.io", "library/ubuntu",
                     digest_of('a'));
        m_context = std::make_unique<EnvironmentContext>(
            *m_store,
            [this](std::string reference) { return fake_resolve(&upstream, std::move(reference)); },
            [this](const std::string& hash) {
                pins.push_back(hash);
                return true;
            },
            [this] { return clock; });
    }
    EnvFixture(const EnvFixture&) = delete;
    EnvFixture& operator=(const EnvFixture&) = delete;

    EnvironmentResponse call(std::string_view method, std::string_view target,
                             std::string_view body = {}, bool is_admin = false) {
        boost::asio::io_context io;
        std::optional<EnvironmentResponse> out;
        const EnvironmentRequest request{method, target, body, is_admin};
        boost::asio::co_spawn(io, handle_environments(request, *m_context),
                              [&](std::exception_ptr e, EnvironmentResponse r) {
                                  if (e) std::rethrow_exception(e);
                                  out = std::move(r);
                              });
        io.run();
        if (!out) throw std::runtime_error("the handler did not complete");
        return std::move(*out);
    }

    EnvironmentContext& context() { return *m_context; }
    store::BlobStore& store() { return *m_store; }

    FakeUpstream upstream;
    std::vector<std::string> pins;
    std::int64_t clock = 1'700'000'000;

  private:
    test_util::TempDir m_dir{"envcache-envapi"};  // destroyed after the store in it
    std::unique_ptr<store::BlobStore> m_store;
    std::unique_ptr<EnvironmentContext> m_context;
};

inline boost::json::value body_of(const EnvironmentResponse& r) {
    return boost::json::parse(r.body);
}

// A JSON string's text; "<not a string>" otherwise, so a comparison fails visibly.
inline std::string text(const boost::json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : "<not a string>";
}

// The code of the first error in an error body, or "" if it is not one.
inline std::string error_code_of(const EnvironmentResponse& r) {
    auto v = body_of(r);
    if (!v.is_object() || !v.get_object().contains("errors")) return {};
    return std::string(v.at("errors").at(0).at("code").as_string());
}

inline std::string error_message_of(const EnvironmentResponse& r) {
    return std::string(body_of(r).at("errors").at(0).at("message").as_string());
}

// A bundle body: an environment file with a conda file.
inline std::string bundle_body(const std::string& environment,
                               const std::optional<std::string>& conda = std::nullopt,
                               const std::optional<std::string>& requirements = std::nullopt) {
    boost::json::object o{{"environment", environment}};
    if (conda) o["conda_file"] = *conda;
    if (requirements) o["requirements"] = *requirements;
    return boost::json::serialize(o);
}

inline const std::string k_env_yaml = "name: train\nimage: ubuntu:22.04\nconda_file: conda.yml\n";
inline const std::string k_conda_yaml =
    "channels: [conda-forge]\ndependencies:\n  - python=3.11.9\n  - numpy=1.26.4\n";
inline const std::string k_conda_yaml_other =
    "channels: [conda-forge]\ndependencies:\n  - python=3.11.9\n  - numpy=1.26.3\n";

}  // namespace proxy::environments::test
