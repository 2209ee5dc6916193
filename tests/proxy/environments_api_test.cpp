#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "proxy/environments/environment_api.hpp"
#include "proxy/environments/environment_image.hpp"
#include "tests/proxy/environments_test_util.hpp"

using namespace proxy::environments;
using namespace proxy::environments::test;
namespace json = boost::json;

namespace {

const std::string k_versions = "/api/v1/environments/train/versions/";

std::string hash_of(const EnvironmentResponse& r) {
    return std::string(body_of(r).at("hash").as_string());
}

}  // namespace

TEST_CASE("registering a new version answers 201 with its hash and lint", "[environments]") {
    EnvFixture f;
    auto r = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml));
    REQUIRE(r.status == 201);
    auto body = body_of(r);
    CHECK(body.at("name") == "train");
    CHECK(body.at("version") == "1");
    CHECK(body.at("hash").as_string().size() == 64);
    CHECK(text(body.at("base").at("digest")) == digest_of('a'));
    CHECK(body.at("image").is_null());
    CHECK(body.at("lint").is_array());
    CHECK(f.upstream.lookups == std::vector<std::string>{"docker.io/library/ubuntu:22.04"});
}

TEST_CASE("registering the same content again answers 200 and changes nothing", "[environments]") {
    EnvFixture f;
    auto first = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml));
    REQUIRE(first.status == 201);
    f.clock += 100;
    // Same dependencies in another order and with a comment: the same content.
    auto again = f.call("PUT", k_versions + "1",
                        bundle_body(k_env_yaml,
                                    "# comment\nchannels: [conda-forge]\n"
                                    "dependencies: [numpy=1.26.4, python=3.11.9]\n"));
    REQUIRE(again.status == 200);
    CHECK(hash_of(again) == hash_of(first));
    CHECK(body_of(again).at("created") == body_of(first).at("created"));
}

TEST_CASE("other content under an existing version is a 409 conflict", "[environments]") {
    EnvFixture f;
    auto first = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml));
    REQUIRE(first.status == 201);
    auto other = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml_other));
    CHECK(other.status == 409);
    CHECK(error_code_of(other) == "CONFLICT");
    CHECK(error_message_of(other).find(hash_of(first)) != std::string::npos);
    // The stored version is still the first content.
    auto got = f.call("GET", k_versions + "1");
    REQUIRE(got.status == 200);
    CHECK(hash_of(got) == hash_of(first));
}

TEST_CASE("a moved base tag gives a new hash, so re-registering the version conflicts",
          "[environments]") {
    EnvFixture f;
    REQUIRE(f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml)).status == 201);
    f.upstream.add("docker.io/library/ubuntu:22.04", "docker.io", "library/ubuntu", digest_of('b'));
    CHECK(f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml)).status == 409);
}

TEST_CASE("reserved names are refused on the public path with 403", "[environments]") {
    EnvFixture f;
    for (std::string name : {"AzureML-sklearn-1.5", "azureml-lower", "Microsoft.Foo"}) {
        auto r = f.call("PUT", "/api/v1/environments/" + name + "/versions/1",
                        bundle_body(k_env_yaml, k_conda_yaml));
        CHECK(r.status == 403);
        CHECK(error_code_of(r) == "DENIED");
    }
    CHECK(f.call("GET", "/api/v1/environments/AzureML-sklearn-1.5/versions/1").status == 404);
    CHECK(f.upstream.lookups.empty());
}

TEST_CASE("an admin registers curated environments through the admin path", "[environments]") {
    EnvFixture f;
    const std::string target = "/api/v1/admin/curated/AzureML-sklearn-1.5/versions/7";
    auto denied = f.call("PUT", target, bundle_body(k_env_yaml, k_conda_yaml), false);
    CHECK(denied.status == 403);
    CHECK(error_code_of(denied) == "DENIED");

    auto created = f.call("PUT", target, bundle_body(k_env_yaml, k_conda_yaml), true);
    REQUIRE(created.status == 201);
    CHECK(body_of(created).at("curated") == true);

    auto got = f.call("GET", "/api/v1/environments/AzureML-sklearn-1.5/versions/7");
    REQUIRE(got.status == 200);
    CHECK(hash_of(got) == hash_of(created));
    CHECK(f.call("GET", "/api/v1/admin/curated/AzureML-sklearn-1.5/versions/7", {}, true).status ==
          405);
}

TEST_CASE("unknown names, versions and hashes answer 404", "[environments]") {
    EnvFixture f;
    CHECK(f.call("GET", k_versions + "1").status == 404);
    CHECK(f.call("GET", k_versions + "latest").status == 404);
    CHECK(f.call("GET", "/api/v1/environments/train/versions").status == 404);
    CHECK(f.call("GET", k_versions + "1/export").status == 404);
    auto r = f.call("GET", "/api/v1/environments/by-hash/" + std::string(64, 'e'));
    CHECK(r.status == 404);
    CHECK(error_code_of(r) == "NOT_FOUND");
    CHECK(f.call("GET", "/api/v1/environments/train/versions/1/export/extra").status == 404);
}

TEST_CASE("a bad hash, name or version in the path is a 400", "[environments]") {
    EnvFixture f;
    for (std::string hash :
         {std::string(63, 'a'), std::string(64, 'A'), std::string(64, 'g'), std::string(65, 'a')}) {
        auto r = f.call("GET", "/api/v1/environments/by-hash/" + hash);
        CHECK(r.status == 400);
        CHECK(error_code_of(r) == "NAME_INVALID");
        CHECK(f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                     R"({"image":"localhost:5000/team/app:1"})")
                  .status == 400);
    }
    CHECK(f.call("PUT", "/api/v1/environments/-bad/versions/1", bundle_body(k_env_yaml)).status ==
          400);
    CHECK(f.call("PUT", "/api/v1/environments/a%20b/versions/1", bundle_body(k_env_yaml)).status ==
          400);
    CHECK(f.call("PUT", k_versions + "latest", bundle_body(k_env_yaml)).status == 400);
    CHECK(f.call("PUT", k_versions + "v!1", bundle_body(k_env_yaml)).status == 400);
    CHECK(f.call("PUT", "/api/v1/environments/" + std::string(256, 'n') + "/versions/1",
                 bundle_body(k_env_yaml))
              .status == 400);
    CHECK(f.call("GET", "/api/v1/environments//versions/1").status == 400);
    CHECK(f.upstream.lookups.empty());
}

TEST_CASE("malformed YAML is a 400 naming the file, line and column, and nothing is stored",
          "[environments]") {
    EnvFixture f;
    auto r = f.call("PUT", k_versions + "1",
                    bundle_body("name: x\nimage: ubuntu:22.04\n  bad: indent\n"));
    REQUIRE(r.status == 400);
    CHECK(error_code_of(r) == "SPEC_INVALID");
    auto detail = body_of(r).at("errors").at(0).at("detail");
    CHECK(detail.at("file") == "environment.yml");
    CHECK(detail.at("line") == 3);
    CHECK(error_message_of(r).find("environment.yml:3") != std::string::npos);
    CHECK(f.call("GET", k_versions + "1").status == 404);

    auto conda = f.call("POST", "/api/v1/environments/resolve",
                        bundle_body(k_env_yaml, "channels:\n  - a\ndependencies: {\n"));
    REQUIRE(conda.status == 400);
    CHECK(body_of(conda).at("errors").at(0).at("detail").at("file") == "conda.yml");
    CHECK(f.store().list_records("envs", "")->empty());
}

TEST_CASE("a body that is not a JSON bundle is a 400", "[environments]") {
    EnvFixture f;
    for (std::string body : {"", "{", "[1,2]", "{\"conda_file\":\"x\"}", "{\"environment\":3}"}) {
        auto r = f.call("POST", "/api/v1/environments/resolve", body);
        CHECK(r.status == 400);
        CHECK(error_code_of(r) == "BODY_INVALID");
    }
    CHECK(f.call("PUT", "/api/v1/environments/by-hash/" + std::string(64, 'a'), "{\"image\":1}")
              .status == 400);
    CHECK(f.call("PUT", "/api/v1/environments/by-hash/" + std::string(64, 'a'),
                 R"({"image":"localhost:5000/a:1","pin":"yes"})")
              .status == 400);
    CHECK(f.call("PUT", "/api/v1/environments/by-hash/" + std::string(64, 'a'),
                 R"({"image":"UPPER/Case::bad"})")
              .status == 400);
}

TEST_CASE("resolve misses, the builder registers the image by hash, then resolve hits",
          "[environments]") {
    EnvFixture f;
    const auto bundle = bundle_body(k_env_yaml, k_conda_yaml);
    auto miss = f.call("POST", "/api/v1/environments/resolve", bundle);
    REQUIRE(miss.status == 200);
    const auto hash = hash_of(miss);
    CHECK(body_of(miss).at("image").is_null());
    CHECK(body_of(miss).at("canonical").as_string().starts_with("envcache-env-v1"));

    // The spec is kept by hash, before any image exists.
    auto known = f.call("GET", "/api/v1/environments/by-hash/" + hash);
    REQUIRE(known.status == 200);
    CHECK(body_of(known).at("canonical") == body_of(miss).at("canonical"));
    CHECK(body_of(known).at("image").is_null());

    f.upstream.add("localhost:5000/team/train:1", "local", "team/train", digest_of('d'));
    auto put = f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                      R"({"image":"localhost:5000/team/train:1"})");
    REQUIRE(put.status == 201);
    CHECK(text(body_of(put).at("image").at("digest")) == digest_of('d'));
    CHECK(body_of(put).at("canonical") == body_of(miss).at("canonical"));
    CHECK(body_of(put).at("pinned") == false);
    CHECK(f.pins.empty());

    auto hit = f.call("POST", "/api/v1/environments/resolve", bundle);
    REQUIRE(hit.status == 200);
    CHECK(hash_of(hit) == hash);
    CHECK(body_of(hit).at("image").at("reference") == "localhost:5000/team/train:1");
    CHECK(text(body_of(hit).at("image").at("digest")) == digest_of('d'));
    CHECK(text(body_of(hit).at("pull")) == "environments/" + hash + ":latest");

    auto image = image_for_hash(f.store(), hash);
    REQUIRE(image.has_value());
    REQUIRE(image->has_value());
    CHECK((*image)->upstream == "local");
    CHECK((*image)->repository == "team/train");
    CHECK((*image)->digest == digest_of('d'));
}

TEST_CASE("registering an image for a hash again answers 200 and keeps the spec",
          "[environments]") {
    EnvFixture f;
    auto resolved =
        f.call("POST", "/api/v1/environments/resolve", bundle_body(k_env_yaml, k_conda_yaml));
    const auto hash = hash_of(resolved);
    f.upstream.add("localhost:5000/team/train:1", "local", "team/train", digest_of('d'));
    f.upstream.add("localhost:5000/team/train:2", "local", "team/train", digest_of('f'));
    const auto target = "/api/v1/environments/by-hash/" + hash;
    REQUIRE(f.call("PUT", target, R"({"image":"localhost:5000/team/train:1"})").status == 201);
    auto again = f.call("PUT", target, R"({"image":"localhost:5000/team/train:2"})");
    REQUIRE(again.status == 200);
    CHECK(text(body_of(again).at("image").at("digest")) == digest_of('f'));
    CHECK(body_of(again).at("canonical") == body_of(resolved).at("canonical"));
}

TEST_CASE("an image can be registered for a hash whose spec was never seen", "[environments]") {
    EnvFixture f;
    const std::string hash(64, '7');
    const std::string digest = digest_of('9');
    f.upstream.add("localhost:5000/team/app@" + digest, "local", "team/app", digest);
    auto put = f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                      R"({"image":"localhost:5000/team/app@)" + digest + "\"}");
    REQUIRE(put.status == 201);
    CHECK(body_of(put).at("canonical").is_null());
    auto got = f.call("GET", "/api/v1/environments/by-hash/" + hash);
    REQUIRE(got.status == 200);
    CHECK(text(body_of(got).at("image").at("digest")) == digest);
}

TEST_CASE("pin true pins the environment hash after the image is recorded", "[environments]") {
    EnvFixture f;
    const std::string hash(64, '5');
    f.upstream.add("localhost:5000/team/app:1", "local", "team/app", digest_of('3'));
    bool record_seen_by_pin = false;
    f.context().pin = [&](const std::string& h) {
        // The evictor resolves a hash pin through the record's top-level "digest".
        auto record = f.store().get_record("envs", h);
        record_seen_by_pin =
            record && *record && text(json::parse(**record).at("digest")) == digest_of('3');
        f.pins.push_back(h);
        return true;
    };
    auto put = f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                      R"({"image":"localhost:5000/team/app:1","pin":true})");
    REQUIRE(put.status == 201);
    CHECK(body_of(put).at("pinned") == true);
    CHECK(f.pins == std::vector<std::string>{hash});
    CHECK(record_seen_by_pin);

    f.context().pin = [](const std::string&) { return false; };
    auto failed = f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                         R"({"image":"localhost:5000/team/app:1","pin":true})");
    CHECK(failed.status == 500);
    CHECK(error_code_of(failed) == "PIN_FAILED");
}

TEST_CASE("an image the upstream does not know is a 400 naming it", "[environments]") {
    EnvFixture f;
    auto r = f.call("PUT", "/api/v1/environments/by-hash/" + std::string(64, '1'),
                    R"({"image":"localhost:5000/team/missing:1"})");
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "IMAGE_UNKNOWN");
    CHECK(error_message_of(r).find("localhost:5000/team/missing:1") != std::string::npos);
    CHECK(f.call("GET", "/api/v1/environments/by-hash/" + std::string(64, '1')).status == 404);

    auto base = f.call("POST", "/api/v1/environments/resolve",
                       bundle_body("image: ubuntu:99.99\n", std::nullopt, "numpy==1.26.4\n"));
    CHECK(base.status == 400);
    CHECK(error_message_of(base).find("docker.io/library/ubuntu:99.99") != std::string::npos);
}

TEST_CASE("an unreachable upstream is a 502 naming the image, and nothing is registered",
          "[environments]") {
    EnvFixture f;
    f.upstream.unreachable = true;
    auto r = f.call("POST", "/api/v1/environments/resolve", bundle_body(k_env_yaml, k_conda_yaml));
    CHECK(r.status == 502);
    CHECK(error_code_of(r) == "UPSTREAM_UNREACHABLE");
    CHECK(error_message_of(r).find("docker.io/library/ubuntu:22.04") != std::string::npos);
    CHECK(f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml)).status == 502);
    CHECK(f.call("GET", k_versions + "1").status == 404);
    CHECK(f.store().list_records("envs", "")->empty());
}

TEST_CASE("a base image pinned by digest is hashed without an upstream lookup", "[environments]") {
    EnvFixture f;
    f.upstream.unreachable = true;
    auto r = f.call("POST", "/api/v1/environments/resolve",
                    bundle_body("image: ubuntu@" + digest_of('a') + "\n", k_conda_yaml));
    REQUIRE(r.status == 200);
    CHECK(f.upstream.lookups.empty());
    CHECK(text(body_of(r).at("base").at("digest")) == digest_of('a'));
}

TEST_CASE("a named version shows the image mapped to its hash", "[environments]") {
    EnvFixture f;
    auto put = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml));
    REQUIRE(put.status == 201);
    const auto hash = hash_of(put);
    f.upstream.add("localhost:5000/team/train:1", "local", "team/train", digest_of('d'));
    REQUIRE(f.call("PUT", "/api/v1/environments/by-hash/" + hash,
                   R"({"image":"localhost:5000/team/train:1"})")
                .status == 201);
    auto got = f.call("GET", k_versions + "1");
    REQUIRE(got.status == 200);
    CHECK(text(body_of(got).at("image").at("digest")) == digest_of('d'));
    auto listed = f.call("GET", "/api/v1/environments/train/versions");
    REQUIRE(listed.status == 200);
    CHECK(text(body_of(listed).at("versions").at(0).at("image").at("digest")) == digest_of('d'));
}

TEST_CASE("latest is the most recently registered version, not the highest", "[environments]") {
    EnvFixture f;
    REQUIRE(f.call("PUT", k_versions + "10", bundle_body(k_env_yaml, k_conda_yaml)).status == 201);
    REQUIRE(f.call("PUT", k_versions + "9", bundle_body(k_env_yaml, k_conda_yaml_other)).status ==
            201);
    // Re-registering 10 unchanged does not make it the latest again.
    REQUIRE(f.call("PUT", k_versions + "10", bundle_body(k_env_yaml, k_conda_yaml)).status == 200);
    auto latest = f.call("GET", k_versions + "latest");
    REQUIRE(latest.status == 200);
    CHECK(body_of(latest).at("version") == "9");

    auto versions = body_of(f.call("GET", "/api/v1/environments/train/versions"));
    CHECK(versions.at("latest") == "9");
    REQUIRE(versions.at("versions").as_array().size() == 2);
    CHECK(versions.at("versions").at(0).at("version") == "10");
    CHECK(versions.at("versions").at(1).at("version") == "9");
}

TEST_CASE("the environment list names each environment once with its latest version",
          "[environments]") {
    EnvFixture f;
    REQUIRE(f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml)).status == 201);
    REQUIRE(f.call("PUT", k_versions + "2", bundle_body(k_env_yaml, k_conda_yaml_other)).status ==
            201);
    REQUIRE(f.call("PUT", "/api/v1/environments/serve/versions/a",
                   bundle_body(k_env_yaml, k_conda_yaml))
                .status == 201);
    auto r = f.call("GET", "/api/v1/environments?page=1");
    REQUIRE(r.status == 200);
    const auto listed = body_of(r);
    const auto& list = listed.at("environments").as_array();
    REQUIRE(list.size() == 2);
    CHECK(list.at(0).at("name") == "serve");
    CHECK(list.at(0).at("latest") == "a");
    CHECK(list.at(0).at("versions") == 1);
    CHECK(list.at(1).at("name") == "train");
    CHECK(list.at(1).at("latest") == "2");
    CHECK(list.at(1).at("versions") == 2);
}

TEST_CASE("export returns the stored spec files, which register again to the same hash",
          "[environments]") {
    EnvFixture f;
    const std::string requirements = "# pinned\nrequests==2.32.3\n";
    auto put = f.call("PUT", k_versions + "1", bundle_body(k_env_yaml, k_conda_yaml, requirements));
    REQUIRE(put.status == 201);
    auto exported = f.call("GET", k_versions + "1/export");
    REQUIRE(exported.status == 200);
    auto body = body_of(exported);
    CHECK(body.at("hash") == body_of(put).at("hash"));
    const auto& bundle = body.at("bundle");
    CHECK(text(bundle.at("environment")) == k_env_yaml);
    CHECK(text(bundle.at("conda_file")) == k_conda_yaml);
    CHECK(text(bundle.at("requirements")) == requirements);
    CHECK_FALSE(bundle.as_object().contains("dockerfile"));

    // The exported bundle is a request body: it rebuilds the same environment.
    auto again =
        f.call("PUT", "/api/v1/environments/train-copy/versions/1", json::serialize(bundle));
    REQUIRE(again.status == 201);
    CHECK(hash_of(again) == hash_of(put));
    CHECK(f.call("GET", k_versions + "latest/export").status == 200);
}

TEST_CASE("methods an endpoint does not serve answer 405 with Allow", "[environments]") {
    EnvFixture f;
    auto r = f.call("GET", "/api/v1/environments/resolve");
    // GET on "resolve" is the versions list of nothing: it is a 405 on the resolve endpoint.
    CHECK(r.status == 405);
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].first == "Allow");
    CHECK(r.headers[0].second == "POST");
    CHECK(f.call("DELETE", k_versions + "1").status == 405);
    CHECK(f.call("POST", "/api/v1/environments").status == 405);
}

TEST_CASE("environment and curated paths are recognised, others are not", "[environments]") {
    CHECK(is_environment_path("/api/v1/environments"));
    CHECK(is_environment_path("/api/v1/environments?x=1"));
    CHECK(is_environment_path("/api/v1/environments/by-hash/abc"));
    CHECK_FALSE(is_environment_path("/api/v1/environmentsx"));
    CHECK_FALSE(is_environment_path("/api/v1/admin/curated/x"));
    CHECK(is_curated_path("/api/v1/admin/curated/AzureML-x/versions/1"));
    CHECK_FALSE(is_curated_path("/api/v1/admin/pins"));
}
