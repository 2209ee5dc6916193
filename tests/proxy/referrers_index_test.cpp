#include "proxy/registry/referrers_index.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace proxy::registry;
namespace json = boost::json;

namespace {

const std::string k_sig = "sha256:" + std::string(64, 'a');
const std::string k_sbom = "sha256:" + std::string(64, 'b');

std::string descriptor(const std::string& digest, const char* type) {
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest +
           R"(","size":500,"artifactType":")" + type + R"(","annotations":{"a":"b"}})";
}

// The digests an answer lists, in order.
std::vector<std::string> digests(const std::string& index) {
    const auto doc = json::parse(index).as_object();
    CHECK(doc.at("schemaVersion") == 2);
    CHECK(doc.at("mediaType") == "application/vnd.oci.image.index.v1+json");
    std::vector<std::string> out;
    for (const auto& m : doc.at("manifests").as_array())
        out.emplace_back(m.at("digest").as_string());
    return out;
}

}  // namespace

TEST_CASE("the referrers tag's index becomes an answer listing its descriptors as they are",
          "[proxy][referrers]") {
    const std::string tagged = R"({"schemaVersion":2,"annotations":{"x":"y"},"manifests":[)" +
                               descriptor(k_sig, "sig") + "," + descriptor(k_sbom, "sbom") +
                               R"(,{"digest":"sha256:short"},7]})";
    const auto answer = referrers_index(tagged);
    REQUIRE(answer);
    CHECK(digests(*answer) == std::vector<std::string>{k_sig, k_sbom});
    const auto first = json::parse(*answer).at("manifests").at(0);
    CHECK(first == json::parse(descriptor(k_sig, "sig")));
    CHECK_FALSE(json::parse(*answer).as_object().contains("annotations"));
}

TEST_CASE("a body that is not an index is no answer", "[proxy][referrers]") {
    CHECK_FALSE(referrers_index("not json"));
    CHECK_FALSE(referrers_index("[]"));
    CHECK_FALSE(referrers_index(R"({"schemaVersion":2})"));
    CHECK_FALSE(referrers_index(R"({"manifests":{}})"));
    CHECK(digests(empty_referrers()).empty());
}

TEST_CASE("an artifactType filter keeps the descriptors of that type only", "[proxy][referrers]") {
    const auto answer = *referrers_index(R"({"manifests":[)" + descriptor(k_sig, "sig") + "," +
                                         descriptor(k_sbom, "sbom") + "]}");
    CHECK(digests(filter_referrers(answer, "sig")) == std::vector<std::string>{k_sig});
    CHECK(digests(filter_referrers(answer, "sbom")) == std::vector<std::string>{k_sbom});
    CHECK(digests(filter_referrers(answer, "si")).empty());
}

TEST_CASE("the referrers tag of a digest replaces its colon", "[proxy][referrers]") {
    CHECK(referrers_tag(k_sig) == "sha256-" + std::string(64, 'a'));
}
