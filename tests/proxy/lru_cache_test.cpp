#include "proxy/registry/lru_cache.hpp"

#include <string>

#include <catch2/catch.hpp>

using proxy::registry::LruCache;

namespace {

LruCache<std::string, std::string> cache_of(std::size_t max_bytes) {
    return {max_bytes, [](const std::string& v) { return v.size(); }};
}

}  // namespace

TEST_CASE("the cache drops the least recently used values to stay within its bytes", "[registry]") {
    auto cache = cache_of(10);
    cache.put("a", "aaaa");
    cache.put("b", "bbbb");
    REQUIRE(cache.find("a"));  // now "b" is the least recently used
    cache.put("c", "cccc");
    CHECK(cache.bytes() == 8);
    CHECK(cache.size() == 2);
    CHECK_FALSE(cache.find("b"));
    REQUIRE(cache.find("a"));
    CHECK(*cache.find("a") == "aaaa");
    REQUIRE(cache.find("c"));
}

TEST_CASE("replacing a value counts only the new one", "[registry]") {
    auto cache = cache_of(10);
    cache.put("a", "aaaa");
    cache.put("a", "aaaaaaaa");
    CHECK(cache.bytes() == 8);
    CHECK(cache.size() == 1);
    cache.put("b", "bb");
    CHECK(cache.bytes() == 10);
    cache.put("c", "c");  // "a" goes: it is the least recently used
    CHECK_FALSE(cache.find("a"));
    CHECK(cache.bytes() == 3);
}

TEST_CASE("a value larger than the whole cache is not kept and evicts nothing", "[registry]") {
    auto cache = cache_of(10);
    cache.put("a", "aaaa");
    cache.put("huge", std::string(11, 'h'));
    CHECK_FALSE(cache.find("huge"));
    REQUIRE(cache.find("a"));
    CHECK(cache.bytes() == 4);
}
