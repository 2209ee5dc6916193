#include <catch2/catch.hpp>

#include "cache/referrer_records.hpp"
#include "tests/cache/evictor_test_util.hpp"

using namespace cache;
using namespace cache::test;

namespace {

constexpr std::uint64_t k_blob = 1'000'000;

// An index with two platform manifests, each with a config and two layers.
struct PinnedImage {
    store::Digest index;
    std::vector<store::Digest> manifests;
    std::vector<store::Digest> below;  // configs and layers

    std::vector<store::Digest> all() const {
        std::vector<store::Digest> out{index};
        out.insert(out.end(), manifests.begin(), manifests.end());
        out.insert(out.end(), below.begin(), below.end());
        return out;
    }
};

PinnedImage put_image(EvictorFixture& f) {
    PinnedImage img;
    for (int m = 0; m < 2; ++m) {
        std::vector<store::Digest> children;
        for (int i = 0; i < 3; ++i)
            children.push_back(f.put(k_blob));
        const auto manifest = f.put(4096);
        REQUIRE(ok(f.store().put_refs(manifest, children)));
        img.manifests.push_back(manifest);
        img.below.insert(img.below.end(), children.begin(), children.end());
    }
    img.index = f.put(4096);
    REQUIRE(ok(f.store().put_refs(img.index, img.manifests)));
    return img;
}

Limits tiny_limits() {
    Limits l;
    l.max_size = 4 * k_mib;
    l.high_watermark = 0.9;
    l.low_watermark = 0.5;
    l.policy = "lru";
    return l;
}

}  // namespace

TEST_CASE("an index pinned by tag protects its child manifests and their layers", "[evictor]") {
    EvictorFixture f(tiny_limits(), {"docker.io/library/app:1.0"});
    const auto img = put_image(f);
    REQUIRE(ok(f.store().put_tag({"docker.io", "library/app", "1.0"},
                                 {img.index, "application/vnd.oci.image.index.v1+json", 0})));
    std::vector<store::Digest> others;
    for (int i = 0; i < 4; ++i)
        others.push_back(f.put(k_blob));

    auto result = f.evictor().maybe_evict();

    for (const auto& d : img.all())
        CHECK(f.has(d));
    for (const auto& d : others)
        CHECK_FALSE(f.has(d));
    CHECK_FALSE(result.reached_target);  // only protected blobs are left above the target
    CHECK(f.evictor().stats().protected_blobs == img.all().size());
}

TEST_CASE("a short docker.io pin names the library repository", "[evictor]") {
    EvictorFixture f(tiny_limits(), {"docker.io/app:1.0"});
    const auto img = put_image(f);
    REQUIRE(ok(f.store().put_tag({"docker.io", "library/app", "1.0"},
                                 {img.index, "application/vnd.oci.image.index.v1+json", 0})));
    std::ignore = f.evictor().maybe_evict();
    for (const auto& d : img.all())
        CHECK(f.has(d));
}

TEST_CASE("a pin by digest and a pin by environment hash protect their images", "[evictor]") {
    EvictorFixture f(tiny_limits());
    const auto by_digest = put_image(f);
    const auto by_env = put_image(f);
    const auto unpinned = put_image(f);
    const std::string env_hash(64, 'a');
    REQUIRE(ok(f.store().put_record(
        "envs", env_hash, R"({"image":"x","digest":")" + by_env.manifests[1].str() + "\"}")));
    REQUIRE(f.evictor().add_pin("ghcr.io/org/app@" + by_digest.index.str()) == PinChange::done);
    REQUIRE(f.evictor().add_pin(env_hash) == PinChange::done);

    std::ignore = f.evictor().maybe_evict();

    for (const auto& d : by_digest.all())
        CHECK(f.has(d));
    // The environment names one platform manifest: that one and what is below it stay.
    CHECK(f.has(by_env.manifests[1]));
    for (int i = 3; i < 6; ++i)
        CHECK(f.has(by_env.below[i]));
    CHECK_FALSE(f.has(by_env.index));
    for (int i = 0; i < 3; ++i)
        CHECK_FALSE(f.has(by_env.below[i]));
    for (const auto& d : unpinned.all())
        CHECK_FALSE(f.has(d));
}

TEST_CASE("a pin whose tag is not stored yet protects nothing until it appears", "[evictor]") {
    EvictorFixture f(tiny_limits());
    REQUIRE(f.evictor().add_pin("docker.io/library/later:2") == PinChange::done);
    auto pins = f.evictor().pins();
    REQUIRE(pins.size() == 1);
    CHECK_FALSE(pins[0].resolves_to);

    const auto img = put_image(f);
    REQUIRE(ok(f.store().put_tag({"docker.io", "library/later", "2"},
                                 {img.index, "application/vnd.oci.image.index.v1+json", 0})));
    std::ignore = f.evictor().maybe_evict();

    for (const auto& d : img.all())
        CHECK(f.has(d));
    CHECK(f.evictor().pins()[0].resolves_to == img.index);
}

TEST_CASE("removing a pin makes its image evictable again", "[evictor]") {
    EvictorFixture f(tiny_limits());
    const auto img = put_image(f);
    REQUIRE(f.evictor().add_pin("quay.io/org/app@" + img.index.str()) == PinChange::done);
    std::ignore = f.evictor().maybe_evict();
    REQUIRE(f.has(img.index));

    REQUIRE(f.evictor().remove_pin("quay.io/org/app@" + img.index.str()) == PinChange::done);
    std::ignore = f.evictor().maybe_evict();

    // 6 MB of layers cannot stay below a 2 MiB low watermark: most of them went.
    CHECK(f.used() < f.evictor().limits().low_bytes());
    int gone = 0;
    for (const auto& d : img.below)
        gone += f.has(d) ? 0 : 1;
    CHECK(gone >= 4);
}

TEST_CASE("pins added through the evictor survive a restart; config pins cannot be removed",
          "[evictor]") {
    EvictorFixture f(tiny_limits(), {"docker.io/library/base:1"});
    REQUIRE(f.evictor().add_pin("docker.io/library/extra:2") == PinChange::done);
    CHECK(f.evictor().add_pin("docker.io/library/extra:2") == PinChange::exists);
    CHECK(f.evictor().add_pin("not a pin") == PinChange::invalid);
    CHECK(f.evictor().remove_pin("docker.io/library/base:1") == PinChange::from_config);
    CHECK(f.evictor().remove_pin("docker.io/library/nope:1") == PinChange::not_found);

    f.reopen();

    auto pins = f.evictor().pins();
    REQUIRE(pins.size() == 2);
    CHECK(pins[0].pin == "docker.io/library/base:1");
    CHECK(pins[0].from_config);
    CHECK(pins[1].pin == "docker.io/library/extra:2");
    CHECK_FALSE(pins[1].from_config);
}

TEST_CASE("pin syntax is checked", "[evictor]") {
    CHECK_FALSE(validate_pin("docker.io/library/python:3.12"));
    CHECK_FALSE(validate_pin("registry.example.com/team/app"));
    CHECK_FALSE(validate_pin("ghcr.io/org/app@sha256:" + std::string(64, 'b')));
    CHECK_FALSE(validate_pin("sha256:" + std::string(64, 'c')));
    CHECK_FALSE(validate_pin(std::string(64, 'd')));
    CHECK(validate_pin(""));
    CHECK(validate_pin("python"));
    CHECK(validate_pin("docker.io/Library/python:3"));
    CHECK(validate_pin("ghcr.io/org/app@sha256:xyz"));
    CHECK(validate_pin("sha256:" + std::string(63, 'c')));
}

TEST_CASE("a pinned image protects its stored referrers answers, the referrers and their blobs",
          "[evictor]") {
    EvictorFixture f(tiny_limits(), {"docker.io/library/app:1.0"});
    const auto img = put_image(f);
    REQUIRE(ok(f.store().put_tag({"docker.io", "library/app", "1.0"},
                                 {img.index, "application/vnd.oci.image.index.v1+json", 0})));
    // A signature of one platform manifest (config and payload), listed by a stored answer.
    const std::vector<store::Digest> signature_blobs{f.put(4096), f.put(k_blob)};
    const auto signature = f.put(4096);
    REQUIRE(ok(f.store().put_refs(signature, signature_blobs)));
    const auto answer = f.put(4096);
    REQUIRE(ok(f.store().put_refs(answer, {signature})));
    REQUIRE(
        ok(put_referrers(f.store(), {img.manifests[0], "docker.io", "library/app"}, {answer, 0})));
    // The same kind of answer about an image nobody pinned.
    const auto other_signature = f.put(4096);
    const auto other_answer = f.put(4096);
    REQUIRE(ok(f.store().put_refs(other_answer, {other_signature})));
    REQUIRE(ok(
        put_referrers(f.store(), {f.put(4096), "docker.io", "library/other"}, {other_answer, 0})));
    for (int i = 0; i < 2; ++i)
        std::ignore = f.put(k_blob);

    std::ignore = f.evictor().maybe_evict();

    for (const auto& d : {answer, signature, signature_blobs[0], signature_blobs[1]})
        CHECK(f.has(d));
    CHECK_FALSE(f.has(other_answer));
    CHECK_FALSE(f.has(other_signature));
}
