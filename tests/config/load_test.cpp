#include "config/load.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "config/units.hpp"
#include "tests/common/temp_dir.hpp"
#include "tests/common/test_certificate.hpp"
#include "tests/config/config_test_util.hpp"

namespace fs = std::filesystem;
using std::chrono::seconds;

namespace {

const std::string k_upstream =
    "upstreams:\n"
    "  - name: docker.io\n"
    "    url: https://registry-1.docker.io\n";

using test_util::accepted;
using test_util::rejected;
using test_util::TempDir;

// Sets an environment variable for the scope of a test, then removes it.
class ScopedEnv {
  public:
    ScopedEnv(std::string name, const std::string& value) : m_name(std::move(name)) {
        ::setenv(m_name.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() { ::unsetenv(m_name.c_str()); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::string m_name;
};

}  // namespace

TEST_CASE("a file with only an upstream gets the documented defaults", "[config]") {
    const auto c = accepted(k_upstream);
    CHECK(c.listen == "127.0.0.1:5000");
    CHECK(c.threads == 0);
    CHECK(c.storage.path == "./data");
    CHECK(c.storage.max_size == 20ull << 30);
    CHECK(c.storage.high_watermark == 0.95);
    CHECK(c.storage.low_watermark == 0.85);
    CHECK(c.storage.compression.level == 3);
    CHECK(c.storage.compression.min_saving == 0.10);
    CHECK(c.storage.background_nice == 10);
    CHECK(c.storage.hot.max_size == 256ull << 20);
    CHECK(c.storage.hot.max_blob == 1ull << 20);
    CHECK(c.eviction.policy == "s3fifo");
    CHECK(c.eviction.max_age == seconds{0});
    CHECK(c.eviction.pins.empty());
    CHECK(c.prefetch);
    CHECK(c.server.max_connections == 1024);
    CHECK(c.server.header_timeout == seconds{30});
    CHECK(c.server.idle_timeout == seconds{120});
    CHECK(c.server.shutdown_grace == seconds{30});
    CHECK(c.server.max_header_bytes == 16 * 1024);
    CHECK(c.server.max_body_bytes == 4 * 1024 * 1024);
    CHECK(c.server.scale_loops);
    CHECK(c.admin_token.empty());
    REQUIRE(c.upstreams.size() == 1);
    const auto& u = c.upstreams[0];
    CHECK(u.name == "docker.io");
    CHECK(u.url == "https://registry-1.docker.io");
    CHECK(u.is_default);  // the only upstream is the default without saying so
    CHECK(u.tag_ttl == seconds{300});
    CHECK(u.connect_timeout == seconds{10});
    CHECK(u.read_timeout == seconds{60});
    CHECK(u.retries == 3);
    CHECK(u.retry_budget == 0.2);
    CHECK(u.revalidate_timeout == seconds{3});
    CHECK(u.stale_while_revalidate == seconds{0});
    CHECK(u.negative_ttl == seconds{5});
    CHECK(u.breaker_failures == 3);
    CHECK(u.breaker_probe_interval == seconds{10});
    CHECK_FALSE(u.insecure_skip_verify);
    CHECK(u.password().empty());
    REQUIRE(c.default_upstream() != nullptr);
    CHECK(c.default_upstream()->name == "docker.io");
}

TEST_CASE("the shipped config/envcache.yml loads with the documented values", "[config]") {
    const fs::path file = fs::path(ENVCACHE_SOURCE_DIR) / "config" / "envcache.yml";
    const auto result = config::load(file);
    if (!result) FAIL(result.error().message());
    const auto& c = *result;
    CHECK(c.source == file);
    CHECK(c.listen == "127.0.0.1:5000");
    CHECK(c.threads == 0);
    CHECK(c.storage.path == "./data");
    CHECK(c.storage.max_size == 20ull << 30);
    CHECK(c.storage.high_watermark == 0.95);
    CHECK(c.storage.low_watermark == 0.85);
    CHECK(c.storage.background_nice == 10);
    CHECK(c.eviction.policy == "s3fifo");
    CHECK(c.prefetch);
    REQUIRE(c.upstreams.size() == 1);
    CHECK(c.upstreams[0].name == "docker.io");
    CHECK(c.upstreams[0].url == "https://registry-1.docker.io");
    CHECK(c.upstreams[0].is_default);
    CHECK(c.upstreams[0].tag_ttl == seconds{300});
    CHECK(c.upstreams[0].username.empty());
}

TEST_CASE("every key in the file is read into the Config", "[config]") {
    TempDir dir;
    const auto password_file = dir.write("ghcr-password", "file-password\n");
    const auto ca_file = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    const auto token_file = dir.write("admin-token", "token-from-file\r\n");
    const ScopedEnv env("ENVCACHE_TEST_EVERY_KEY_PASSWORD", "env-password");

    const auto c = accepted(
        "listen: \"[::1]:6000\"\n"
        "threads: 8\n"
        "storage:\n"
        "  path: /var/cache/envcache\n"
        "  max_size: 1.5TiB\n"
        "  high_watermark: 0.9\n"
        "  low_watermark: 0.7\n"
        "  background_nice: 0\n"
        "  compression: {level: 19, min_saving: 0}\n"
        "eviction:\n"
        "  policy: wtinylfu\n"
        "  max_age: 30d\n"
        "  pins: [python:3.11, 'sha256:0123abcd']\n"
        "upstreams:\n"
        "  - name: ghcr.io\n"
        "    url: https://ghcr.io/\n"
        "    tag_ttl: 0\n"
        "    username: robot\n"
        "    password_file: " +
        password_file.string() +
        "\n"
        "    ca_file: " +
        ca_file.string() +
        "\n"
        "    insecure_skip_verify: true\n"
        "    connect_timeout: 5s\n"
        "    read_timeout: 2m\n"
        "    retries: 0\n"
        "    retry_budget: 0.5\n"
        "    revalidate_timeout: 1s\n"
        "    stale_while_revalidate: 1m\n"
        "    negative_ttl: 0\n"
        "    breaker_failures: 0\n"
        "    breaker_probe_interval: 30s\n"
        "  - name: localhost:5001\n"
        "    url: http://127.0.0.1:5001\n"
        "    default: true\n"
        "    tag_ttl: 12h\n"
        "    username: ci\n"
        "    password_env: ENVCACHE_TEST_EVERY_KEY_PASSWORD\n"
        "prefetch: false\n"
        "server:\n"
        "  max_connections: 10\n"
        "  header_timeout: 5s\n"
        "  idle_timeout: 1m\n"
        "  shutdown_grace: 0\n"
        "  max_header_bytes: 8KiB\n"
        "  max_body_bytes: 1MB\n"
        "  scale_loops: false\n"
        "admin_token_file: " +
        token_file.string() + "\n");

    CHECK(c.listen == "[::1]:6000");
    CHECK(c.threads == 8);
    CHECK(c.storage.path == "/var/cache/envcache");
    CHECK(c.storage.max_size == 3ull << 39);
    CHECK(c.storage.high_watermark == 0.9);
    CHECK(c.storage.low_watermark == 0.7);
    CHECK(c.storage.background_nice == 0);
    CHECK(c.storage.compression.level == 19);
    CHECK(c.storage.compression.min_saving == 0.0);
    CHECK(c.eviction.policy == "wtinylfu");
    CHECK(c.eviction.max_age == seconds{30 * 86400});
    CHECK(c.eviction.pins == std::vector<std::string>{"python:3.11", "sha256:0123abcd"});
    CHECK_FALSE(c.prefetch);
    CHECK(c.server.max_connections == 10);
    CHECK(c.server.header_timeout == seconds{5});
    CHECK(c.server.idle_timeout == seconds{60});
    CHECK(c.server.shutdown_grace == seconds{0});
    CHECK(c.server.max_header_bytes == 8192);
    CHECK(c.server.max_body_bytes == 1'000'000);
    CHECK_FALSE(c.server.scale_loops);
    CHECK(c.admin_token == "token-from-file");
    CHECK(c.admin_token_file == token_file.string());

    REQUIRE(c.upstreams.size() == 2);
    const auto& ghcr = c.upstreams[0];
    CHECK(ghcr.name == "ghcr.io");
    CHECK(ghcr.url == "https://ghcr.io");  // trailing slash removed
    CHECK_FALSE(ghcr.is_default);
    CHECK(ghcr.tag_ttl == seconds{0});
    CHECK(ghcr.username == "robot");
    CHECK(ghcr.password_file == password_file.string());
    CHECK(ghcr.password() == "file-password");
    CHECK(ghcr.ca_file == ca_file.string());
    CHECK(ghcr.insecure_skip_verify);
    CHECK(ghcr.connect_timeout == seconds{5});
    CHECK(ghcr.read_timeout == seconds{120});
    CHECK(ghcr.retries == 0);
    CHECK(ghcr.retry_budget == 0.5);
    CHECK(ghcr.revalidate_timeout == seconds{1});
    CHECK(ghcr.stale_while_revalidate == seconds{60});
    CHECK(ghcr.negative_ttl == seconds{0});
    CHECK(ghcr.breaker_failures == 0);
    CHECK(ghcr.breaker_probe_interval == seconds{30});

    const auto& local = c.upstreams[1];
    CHECK(local.name == "localhost:5001");
    CHECK(local.url == "http://127.0.0.1:5001");
    CHECK(local.is_default);
    CHECK(local.tag_ttl == seconds{12 * 3600});
    CHECK(local.username == "ci");
    CHECK(local.password() == "env-password");
    REQUIRE(c.default_upstream() == &local);
}

TEST_CASE("an unknown key is an error naming its line and the key it resembles", "[config]") {
    CHECK(rejected("listne: 127.0.0.1:5000\n" + k_upstream) ==
          "test.yml:1: listne: unknown key; did you mean listen?");
    CHECK(rejected(k_upstream + "prefetsh: false\n") ==
          "test.yml:4: prefetsh: unknown key; did you mean prefetch?");
    CHECK(rejected(k_upstream + "colour: blue\n") ==
          "test.yml:4: colour: unknown key (known here: listen, threads, storage, eviction, "
          "upstreams, prefetch, server, admin_token, admin_token_env, admin_token_file, access)");
}

TEST_CASE("a typo in a nested key is an error, never a silently ignored limit", "[config]") {
    CHECK(rejected(k_upstream + "storage:\n"
                                "  path: ./data\n"
                                "  max_sise: 10GiB\n") ==
          "test.yml:6: storage.max_sise: unknown key; did you mean max_size?");
    CHECK(rejected(k_upstream + "storage:\n"
                                "  Max_Size: 10GiB\n") ==
          "test.yml:5: storage.Max_Size: unknown key; did you mean max_size?");
    CHECK(rejected(k_upstream + "storage:\n"
                                "  compression:\n"
                                "    levle: 5\n") ==
          "test.yml:6: storage.compression.levle: unknown key; did you mean level?");
    CHECK(rejected("upstreams:\n"
                   "  - name: docker.io\n"
                   "    url: https://registry-1.docker.io\n"
                   "    defualt: true\n") ==
          "test.yml:4: upstreams[0].defualt: unknown key; did you mean default?");
    CHECK(rejected(k_upstream + "server:\n"
                                "  max_conections: 10\n") ==
          "test.yml:5: server.max_conections: unknown key; did you mean max_connections?");
    CHECK(rejected(k_upstream + "eviction:\n"
                                "  max-age: 1d\n") ==
          "test.yml:5: eviction.max-age: unknown key; did you mean max_age?");
}

TEST_CASE("a key written at the wrong level points to where it belongs", "[config]") {
    CHECK(rejected(k_upstream + "max_size: 10GiB\n") ==
          "test.yml:4: max_size: unknown key here; did you mean storage.max_size?");
    CHECK(rejected(k_upstream + "tag_ttl: 1m\n") ==
          "test.yml:4: tag_ttl: unknown key here; did you mean upstreams[].tag_ttl?");
    CHECK(rejected(k_upstream + "storage:\n"
                                "  policy: lru\n") ==
          "test.yml:5: storage.policy: unknown key here; did you mean eviction.policy?");
}

TEST_CASE("a key given twice is an error naming both lines", "[config]") {
    CHECK(rejected(k_upstream + "storage:\n"
                                "  max_size: 10GiB\n"
                                "  max_size: 1GiB\n") ==
          "test.yml:6: storage.max_size: appears twice (first on line 5)");
}

TEST_CASE("a value of the wrong type is an error naming line, key and what was found", "[config]") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"storage: 5\n", "test.yml:4: storage: expected a mapping, found \"5\""},
        {"storage: [a]\n", "test.yml:4: storage: expected a mapping, found a list"},
        {"threads: four\n", "test.yml:4: threads: expected a whole number, found \"four\""},
        {"threads: 2.5\n", "test.yml:4: threads: expected a whole number, found \"2.5\""},
        {"threads: -2\n", "test.yml:4: threads: \"-2\" must not be negative"},
        {"threads: 5000\n", "test.yml:4: threads: must be between 0 and 1024, found 5000"},
        {"threads:\n", "test.yml:4: threads: needs a value (a whole number)"},
        {"prefetch: yes\n", "test.yml:4: prefetch: expected true or false, found \"yes\""},
        {"prefetch: {a: 1}\n", "test.yml:4: prefetch: expected true or false, found a mapping"},
        {"eviction:\n  pins: abc\n", "test.yml:5: eviction.pins: expected a list, found \"abc\""},
        {"eviction:\n  pins: ['']\n", "test.yml:5: eviction.pins[0]: must not be empty"},
        {"eviction:\n  pins:\n    - {a: b}\n",
         "test.yml:6: eviction.pins[0]: expected a string, found a mapping"},
        {"storage:\n  high_watermark: high\n",
         "test.yml:5: storage.high_watermark: expected a number such as 0.95, found \"high\""},
        {"storage:\n  high_watermark: .nan\n",
         "test.yml:5: storage.high_watermark: expected a number such as 0.95, found \".nan\""},
        {"listen: 5000\n",
         "test.yml:4: listen: \"5000\" has no port; expected host:port such as 127.0.0.1:5000, "
         "localhost:5000 or [::1]:5000"},
        {"admin_token: [a, b]\n", "test.yml:4: admin_token: expected a string, found a list"},
    };
    for (const auto& [yaml, message] : cases) {
        INFO(yaml);
        CHECK(rejected(k_upstream + yaml) == message);
    }
    CHECK(rejected("upstreams:\n  name: x\n") ==
          "test.yml:1: upstreams: expected a list of upstreams (- name: ..., url: ...), found a "
          "mapping");
    CHECK(rejected("upstreams:\n  - docker.io\n") ==
          "test.yml:2: upstreams[0]: expected a mapping with name and url, found \"docker.io\"");
}

TEST_CASE("a size or duration with a bad unit is an error naming line and key", "[config]") {
    CHECK(rejected("listen: 127.0.0.1:5000\n"
                   "threads: 0\n" +
                   k_upstream +
                   "storage:\n"
                   "  max_size: 20Gib\n") ==
          "test.yml:7: storage.max_size: \"20Gib\" is not a size (use B, KiB, MiB, GiB, TiB, KB, "
          "MB, GB, TB)");
    CHECK(rejected(k_upstream + "storage:\n  max_size: 0\n") ==
          "test.yml:5: storage.max_size: must be greater than 0");
    CHECK(rejected(k_upstream + "storage:\n  map_size: 64KiB\n") ==
          "test.yml:5: storage.map_size: must be 0 (the default) or at least 1MiB");
    CHECK(accepted(k_upstream + "storage:\n  map_size: 16MiB\n").storage.map_size == 16ull << 20);
    CHECK(accepted(k_upstream).storage.map_size == 0);
    CHECK(rejected(k_upstream + "storage:\n  max_size: -5GiB\n") ==
          "test.yml:5: storage.max_size: \"-5GiB\" is negative; a size must be at least 0");
    CHECK(rejected(k_upstream + "eviction:\n  max_age: 5 minutes\n") ==
          "test.yml:5: eviction.max_age: \"5 minutes\" is not a duration (use 0 or a whole number "
          "with s, m, h or d: 30s, 5m, 12h, 30d)");
    CHECK(rejected(k_upstream + "    tag_ttl: 300\n") ==
          "test.yml:4: upstreams[0].tag_ttl: \"300\" has no unit (use 0 or a whole number with "
          "s, m, h or d: 30s, 5m, 12h, 30d)");
    CHECK(rejected(k_upstream + "    connect_timeout: 0\n") ==
          "test.yml:4: upstreams[0].connect_timeout: must be greater than 0");
    CHECK(rejected(k_upstream + "    retries: 11\n") ==
          "test.yml:4: upstreams[0].retries: must be between 0 and 10, found 11");
    CHECK(rejected(k_upstream + "    retry_budget: 1.5\n") ==
          "test.yml:4: upstreams[0].retry_budget: must be between 0 and 1 (a share of requests), "
          "found \"1.5\"");
    CHECK(rejected(k_upstream + "    revalidate_timeout: 0\n") ==
          "test.yml:4: upstreams[0].revalidate_timeout: must be greater than 0");
    CHECK(rejected(k_upstream + "    breaker_probe_interval: 0\n") ==
          "test.yml:4: upstreams[0].breaker_probe_interval: must be greater than 0");
    CHECK(rejected(k_upstream + "    breaker_failures: 1001\n") ==
          "test.yml:4: upstreams[0].breaker_failures: must be between 0 and 1000, found 1001");
    CHECK(rejected(k_upstream + "    negative_ttl: 5\n") ==
          "test.yml:4: upstreams[0].negative_ttl: \"5\" has no unit (use 0 or a whole number "
          "with s, m, h or d: 30s, 5m, 12h, 30d)");
    CHECK(rejected(k_upstream + "server:\n  header_timeout: 0\n") ==
          "test.yml:5: server.header_timeout: must be greater than 0");
    CHECK(rejected(k_upstream + "server:\n  max_connections: 0\n") ==
          "test.yml:5: server.max_connections: must be between 1 and 1000000, found 0");
    CHECK(accepted(k_upstream + "server:\n  max_body_bytes: 4 MiB\n").server.max_body_bytes ==
          4u << 20);
    CHECK(rejected(k_upstream + "server:\n  scale_loops: sometimes\n") ==
          "test.yml:5: server.scale_loops: expected true or false, found \"sometimes\"");
}

TEST_CASE("watermarks must be above 0 and at most 1, with low below high", "[config]") {
    CHECK(rejected(k_upstream + "storage:\n"
                                "  high_watermark: 0.9\n"
                                "  low_watermark: 0.95\n") ==
          "test.yml:6: storage.low_watermark: 0.95 must be below high_watermark (0.9)");
    CHECK(rejected(k_upstream + "storage:\n"
                                "  low_watermark: 0.9\n"
                                "  high_watermark: 0.9\n") ==
          "test.yml:5: storage.low_watermark: 0.9 must be below high_watermark (0.9)");
    CHECK(rejected(k_upstream + "storage:\n"
                                "  high_watermark: 0.8\n") ==
          "test.yml:5: storage.high_watermark: 0.8 must be above low_watermark (0.85, the "
          "default)");
    CHECK(rejected(k_upstream + "storage:\n  high_watermark: 1.5\n") ==
          "test.yml:5: storage.high_watermark: must be greater than 0 and at most 1, found 1.5");
    CHECK(rejected(k_upstream + "storage:\n  low_watermark: 0\n") ==
          "test.yml:5: storage.low_watermark: must be greater than 0 and at most 1, found 0");
    const auto c = accepted(k_upstream + "storage: {high_watermark: 1, low_watermark: 0.99}\n");
    CHECK(c.storage.high_watermark == 1.0);
    CHECK(c.storage.low_watermark == 0.99);
}

TEST_CASE("two default upstreams are an error at the second one", "[config]") {
    CHECK(rejected("upstreams:\n"
                   "  - name: docker.io\n"
                   "    url: https://registry-1.docker.io\n"
                   "    default: true\n"
                   "  - name: ghcr.io\n"
                   "    url: https://ghcr.io\n"
                   "    default: true\n") ==
          "test.yml:7: upstreams[1].default: only one upstream can be the default; "
          "upstreams[0].default already is");
}

TEST_CASE("several upstreams need exactly one default, and a single one is the default",
          "[config]") {
    CHECK(rejected("upstreams:\n"
                   "  - name: docker.io\n"
                   "    url: https://registry-1.docker.io\n"
                   "  - name: ghcr.io\n"
                   "    url: https://ghcr.io\n") ==
          "test.yml:1: upstreams: with several upstreams, mark exactly one with `default: true`");
    const auto c = accepted(
        "upstreams:\n"
        "  - name: docker.io\n"
        "    url: https://registry-1.docker.io\n"
        "    default: false\n"
        "  - name: ghcr.io\n"
        "    url: https://ghcr.io\n"
        "    default: true\n");
    CHECK_FALSE(c.upstreams[0].is_default);
    CHECK(c.upstreams[1].is_default);
    CHECK(c.default_upstream() == &c.upstreams[1]);
}

TEST_CASE("missing or empty upstreams and incomplete upstreams are errors", "[config]") {
    CHECK(rejected("listen: 127.0.0.1:5000\n") ==
          "test.yml:1: upstreams: is required: at least one upstream registry (name and url)");
    CHECK(rejected("upstreams: []\n") ==
          "test.yml:1: upstreams: needs at least one upstream registry (name and url)");
    CHECK(rejected("upstreams:\n") ==
          "test.yml:1: upstreams: needs at least one upstream registry (name and url)");
    CHECK(rejected("upstreams:\n  - url: https://ghcr.io\n") ==
          "test.yml:2: upstreams[0].name: is required (e.g. docker.io)");
    CHECK(rejected("upstreams:\n  - name: ghcr.io\n") ==
          "test.yml:2: upstreams[0].url: is required (e.g. https://registry-1.docker.io)");
}

TEST_CASE("upstream names are unique registry names without slashes", "[config]") {
    CHECK(rejected("upstreams:\n  - name: docker.io/library\n    url: https://x.io\n") ==
          "test.yml:2: upstreams[0].name: \"docker.io/library\" is not a registry name (letters, "
          "digits, '.', '-', '_', ':'; no '/'), e.g. docker.io or localhost:5001");
    CHECK(rejected("upstreams:\n"
                   "  - name: docker.io\n"
                   "    url: https://registry-1.docker.io\n"
                   "    default: true\n"
                   "  - name: Docker.io\n"
                   "    url: https://mirror.gcr.io\n") ==
          "test.yml:5: upstreams[1].name: \"Docker.io\" is already the name of upstreams[0]");
}

TEST_CASE("a listen address that is not host:port is an error", "[config]") {
    CHECK(rejected("listen: localhost\n" + k_upstream) ==
          "test.yml:1: listen: \"localhost\" has no port; expected host:port such as "
          "127.0.0.1:5000, localhost:5000 or [::1]:5000");
    CHECK(rejected("listen: 127.0.0.1:99999\n" + k_upstream) ==
          "test.yml:1: listen: \"127.0.0.1:99999\" has an invalid port (0..65535)");
    // Unquoted, `[::1]:5000` is broken YAML (a list followed by text); the line still shows.
    CHECK(rejected("listen: [::1]:5000\n" + k_upstream).starts_with("test.yml:1: not valid YAML"));
    CHECK(rejected("listen: [::1]\n" + k_upstream) ==
          "test.yml:1: listen: expected host:port, found a list; quote IPv6 addresses: listen: "
          "\"[::1]:5000\"");
    CHECK(accepted("listen: '[::1]:5000'\n" + k_upstream).listen == "[::1]:5000");
    CHECK(accepted("listen: 0.0.0.0:0\n" + k_upstream).listen == "0.0.0.0:0");
}

TEST_CASE("an upstream url must be http or https with a host", "[config]") {
    const auto with_url = [](const std::string& url) {
        return "upstreams:\n  - name: r.example\n    url: '" + url + "'\n";
    };
    const std::vector<std::pair<std::string, std::string>> cases{
        {"ftp://r.example", "\"ftp://r.example\" must start with http:// or https://"},
        {"r.example", "\"r.example\" must start with http:// or https://"},
        {"https://", "\"https://\" has no host"},
        {"https:///v2", "\"https:///v2\" has no host"},
        {"https://r.example:99999", "\"https://r.example:99999\" has an invalid port"},
        {"https://r.example:", "\"https://r.example:\" has an empty port"},
        {"https://r_e$x.com", "\"https://r_e$x.com\" has an invalid host"},
        {"https://r.example/v2?x=1",
         "\"https://r.example/v2?x=1\" must not have a query or "
         "fragment"},
    };
    for (const auto& [url, reason] : cases) {
        INFO(url);
        CHECK(rejected(with_url(url)) == "test.yml:3: upstreams[0].url: " + reason);
    }
    CHECK(accepted(with_url("http://[::1]:5001/")).upstreams[0].url == "http://[::1]:5001");
    CHECK(accepted(with_url("HTTPS://R.example")).upstreams[0].url == "https://R.example");
    CHECK(accepted(with_url("https://r.example/mirror/")).upstreams[0].url ==
          "https://r.example/mirror");
}

TEST_CASE("an upstream url with credentials is refused without echoing them", "[config]") {
    const auto message =
        rejected("upstreams:\n  - name: r.example\n    url: https://robot:hunter2@r.example\n");
    CHECK(message ==
          "test.yml:3: upstreams[0].url: must not contain credentials; use username with "
          "password_env or password_file");
    CHECK(message.find("hunter2") == std::string::npos);
}

TEST_CASE("an unknown eviction policy is an error that suggests the close one", "[config]") {
    CHECK(rejected(k_upstream + "eviction:\n  policy: s3-fifo\n") ==
          "test.yml:5: eviction.policy: \"s3-fifo\" is not a policy (use lru, lfu, s3fifo, "
          "sieve, wtinylfu); did you mean s3fifo?");
    CHECK(rejected(k_upstream + "eviction:\n  policy: random\n") ==
          "test.yml:5: eviction.policy: \"random\" is not a policy (use lru, lfu, s3fifo, sieve, "
          "wtinylfu)");
    for (const auto* policy : {"lru", "lfu", "s3fifo", "sieve", "wtinylfu"}) {
        INFO(policy);
        CHECK(accepted(k_upstream + "eviction: {policy: " + policy + "}\n").eviction.policy ==
              policy);
    }
}

TEST_CASE("the hot tier takes sizes, may be off, and holds no blob larger than itself or 64MiB",
          "[config]") {
    const auto c = accepted(k_upstream + "storage:\n  hot: {max_size: 64MiB, max_blob: 512KiB}\n");
    CHECK(c.storage.hot.max_size == 64ull << 20);
    CHECK(c.storage.hot.max_blob == 512ull << 10);
    CHECK(accepted(k_upstream + "storage:\n  hot:\n    max_size: 0\n").storage.hot.max_size == 0);
    CHECK(rejected(k_upstream + "storage:\n  hot:\n    max_size: 1MiB\n    max_blob: 2MiB\n") ==
          "test.yml:7: storage.hot.max_blob: must not exceed storage.hot.max_size (1 MiB)");
    CHECK(rejected(k_upstream + "storage:\n  hot:\n    max_size: 512KiB\n") ==
          "test.yml:6: storage.hot.max_size: must be 0 (off) or at least max_blob (1 MiB, the "
          "default)");
    CHECK(rejected(k_upstream + "storage:\n  hot:\n    max_size: 1GiB\n    max_blob: 65MiB\n")
              .starts_with("test.yml:7: storage.hot.max_blob: must be at most 64MiB"));
    CHECK(rejected(k_upstream + "storage:\n  hot:\n    max_blob: lots\n")
              .starts_with("test.yml:6: storage.hot.max_blob: "));
    CHECK(rejected(k_upstream + "storage:\n  hot:\n    max_sise: 1MiB\n") ==
          "test.yml:6: storage.hot.max_sise: unknown key; did you mean max_size?");
}

TEST_CASE("compression level is 1..19 and min_saving is at least 0 and below 1", "[config]") {
    CHECK(rejected(k_upstream + "storage:\n  compression:\n    level: 0\n") ==
          "test.yml:6: storage.compression.level: must be between 1 and 19, found 0");
    CHECK(rejected(k_upstream + "storage:\n  compression:\n    level: 20\n") ==
          "test.yml:6: storage.compression.level: must be between 1 and 19, found 20");
    CHECK(rejected(k_upstream + "storage:\n  compression:\n    min_saving: 1\n") ==
          "test.yml:6: storage.compression.min_saving: must be at least 0 and below 1, found 1");
    CHECK(rejected(k_upstream + "storage:\n  compression:\n    min_saving: -0.1\n") ==
          "test.yml:6: storage.compression.min_saving: must be at least 0 and below 1, found "
          "-0.1");
}

TEST_CASE("background_nice is 0..19", "[config]") {
    CHECK(accepted(k_upstream + "storage:\n  background_nice: 19\n").storage.background_nice == 19);
    CHECK(rejected(k_upstream + "storage:\n  background_nice: 20\n") ==
          "test.yml:5: storage.background_nice: must be between 0 and 19, found 20");
    CHECK(rejected(k_upstream + "storage:\n  background_nice: -1\n")
              .starts_with("test.yml:5: storage.background_nice: "));
}

TEST_CASE("upstream passwords come from one of password_env and password_file", "[config]") {
    TempDir dir;
    const auto secret_file = dir.write("pw", "TOPSECRET-FILE\n");
    const std::string head =
        "upstreams:\n"
        "  - name: r.example\n"
        "    url: https://r.example\n";

    SECTION("both set is an error at password_file") {
        const ScopedEnv env("ENVCACHE_TEST_PW_BOTH", "TOPSECRET-ENV");
        const auto message = rejected(head +
                                      "    username: robot\n"
                                      "    password_env: ENVCACHE_TEST_PW_BOTH\n"
                                      "    password_file: " +
                                      secret_file.string() + "\n");
        CHECK(message ==
              "test.yml:6: upstreams[0].password_file: set either password_env or "
              "password_file, not both");
    }
    SECTION("a password without a username is an error that does not show the password") {
        const auto message = rejected(head + "    password_file: " + secret_file.string() + "\n");
        CHECK(message ==
              "test.yml:4: upstreams[0].password_file: a password needs a username (set "
              "username too)");
        CHECK(message.find("TOPSECRET") == std::string::npos);
    }
    SECTION("an unreadable password file is an error naming the key and the path") {
        const auto missing = (dir.path() / "no-such-file").string();
        CHECK(rejected(head + "    username: robot\n    password_file: " + missing + "\n") ==
              "test.yml:5: upstreams[0].password_file: cannot read \"" + missing + "\"");
        CHECK(rejected(head + "    username: robot\n    password_file: " + dir.path().string() +
                       "\n") == "test.yml:5: upstreams[0].password_file: cannot read \"" +
                                    dir.path().string() + "\"");
    }
    SECTION("an unset password variable is an error naming the variable") {
        CHECK(rejected(head + "    username: robot\n    password_env: ENVCACHE_TEST_PW_UNSET\n") ==
              "test.yml:5: upstreams[0].password_env: environment variable "
              "ENVCACHE_TEST_PW_UNSET is not set");
    }
    SECTION("password() reads the file without its trailing newline") {
        const auto crlf = dir.write("pw-crlf", "with spaces \r\n");
        const auto c =
            accepted(head + "    username: robot\n    password_file: " + crlf.string() + "\n");
        CHECK(c.upstreams[0].password() == "with spaces ");
    }
    SECTION("password() reads the environment variable") {
        const ScopedEnv env("ENVCACHE_TEST_PW_ENV", "from-env");
        const auto c =
            accepted(head + "    username: robot\n    password_env: ENVCACHE_TEST_PW_ENV\n");
        CHECK(c.upstreams[0].password() == "from-env");
    }
    SECTION("an unreadable CA file is an error naming the key") {
        const auto missing = (dir.path() / "ca.pem").string();
        CHECK(rejected(head + "    ca_file: " + missing + "\n") ==
              "test.yml:4: upstreams[0].ca_file: cannot read \"" + missing + "\"");
    }
}

TEST_CASE("the admin token comes from one source and never appears in a message", "[config]") {
    TempDir dir;
    const auto token_file = dir.write("token", "TOKEN-IN-FILE\n");

    SECTION("inline and file together are an error that shows neither token") {
        const auto message = rejected(k_upstream + "admin_token: TOKEN-INLINE\nadmin_token_file: " +
                                      token_file.string() + "\n");
        CHECK(message ==
              "test.yml:5: admin_token_file: set only one of admin_token, admin_token_env and "
              "admin_token_file");
        CHECK(message.find("TOKEN-INLINE") == std::string::npos);
        CHECK(message.find("TOKEN-IN-FILE") == std::string::npos);
    }
    SECTION("inline and env together are an error") {
        const ScopedEnv env("ENVCACHE_TEST_TOKEN", "TOKEN-IN-ENV");
        const auto message = rejected(
            k_upstream + "admin_token_env: ENVCACHE_TEST_TOKEN\nadmin_token: TOKEN-INLINE\n");
        CHECK(message ==
              "test.yml:4: admin_token_env: set only one of admin_token, admin_token_env and "
              "admin_token_file");
        CHECK(message.find("TOKEN-IN") == std::string::npos);
    }
    SECTION("the file's token is read without its newline") {
        const auto c = accepted(k_upstream + "admin_token_file: " + token_file.string() + "\n");
        CHECK(c.admin_token == "TOKEN-IN-FILE");
    }
    SECTION("the environment's token is read") {
        const ScopedEnv env("ENVCACHE_TEST_TOKEN", "TOKEN-IN-ENV");
        CHECK(accepted(k_upstream + "admin_token_env: ENVCACHE_TEST_TOKEN\n").admin_token ==
              "TOKEN-IN-ENV");
    }
    SECTION("an inline token is kept as written") {
        CHECK(accepted(k_upstream + "admin_token: abc123\n").admin_token == "abc123");
    }
    SECTION("an unset variable or an empty file is an error") {
        CHECK(rejected(k_upstream + "admin_token_env: ENVCACHE_TEST_TOKEN_UNSET\n") ==
              "test.yml:4: admin_token_env: environment variable ENVCACHE_TEST_TOKEN_UNSET is "
              "not set");
        const auto empty = dir.write("empty", "\n");
        CHECK(rejected(k_upstream + "admin_token_file: " + empty.string() + "\n") ==
              "test.yml:4: admin_token_file: \"" + empty.string() + "\" is empty");
    }
}

TEST_CASE("an empty file, a non-mapping and broken YAML are clear errors", "[config]") {
    CHECK(rejected("") ==
          "test.yml:1: the file is empty; expected a mapping of settings such as `listen: "
          "127.0.0.1:5000` (see config/envcache.yml)");
    CHECK(rejected("# only a comment\n") ==
          "test.yml:1: the file is empty; expected a mapping of settings such as `listen: "
          "127.0.0.1:5000` (see config/envcache.yml)");
    CHECK(rejected("- listen\n- threads\n") ==
          "test.yml:1: expected a mapping of settings at the top level, found a list");
    CHECK(rejected("just text\n") ==
          "test.yml:1: expected a mapping of settings at the top level, found \"just text\"");
    const auto broken = rejected(k_upstream + "storage:\n  max_size: [1GiB\n");
    CHECK(broken.starts_with("test.yml:"));
    CHECK(broken.find("not valid YAML") != std::string::npos);
    CHECK(rejected(k_upstream + "---\n" + k_upstream) ==
          "test.yml:5: holds more than one YAML document; expected one");
}

TEST_CASE("a stray ',' is an error on its line, not a parser that never returns", "[config]") {
    CHECK(rejected(",") == "test.yml:1: not valid YAML: unexpected ','");
    CHECK(rejected(", [\n") == "test.yml:1: not valid YAML: unexpected ','");
    CHECK(rejected("# a comment\n,a\n") == "test.yml:2: not valid YAML: unexpected ','");
    CHECK(rejected(k_upstream + "---\n,\n").find("more than one YAML document") !=
          std::string::npos);
}

TEST_CASE("load() reads a file, names it in errors and offers a throwing value()", "[config]") {
    TempDir dir;
    const auto good = dir.write("good.yml", k_upstream);
    const auto loaded = config::load(good);
    REQUIRE(loaded.has_value());
    CHECK(loaded->source == good);

    const auto missing = dir.path() / "missing.yml";
    const auto not_found = config::load(missing);
    REQUIRE_FALSE(not_found.has_value());
    CHECK(not_found.error().message() == missing.string() + ": cannot open the file");

    const auto bad = dir.write("bad.yml", k_upstream + "storage:\n  max_size: 20Gib\n");
    const auto error = config::load(bad);
    REQUIRE_FALSE(error.has_value());
    CHECK(error.error().file == bad.string());
    CHECK(error.error().line == 5);
    CHECK(error.error().key == "storage.max_size");
    CHECK_THROWS_AS(config::load(bad).value(), std::runtime_error);
    CHECK_THROWS_WITH(config::load(bad).value(), error.error().message());
}

namespace {

// A config with `server.tls` holding `tls` (indented lines under it), after the upstream.
std::string with_tls(const std::string& tls) {
    return k_upstream + "server:\n  tls:\n" + tls;
}

}  // namespace

TEST_CASE("server.tls is read with its files checked", "[config]") {
    TempDir dir;
    const auto server = test_util::make_test_certificate("envcache.test");
    const auto ca = test_util::make_test_certificate("clients CA");
    const auto cert = dir.write("server.crt", server.cert_pem);
    const auto key = dir.write("server.key", server.key_pem);
    const auto ca_file = dir.write("ca.crt", ca.cert_pem);

    const auto c =
        accepted(with_tls("    cert_file: " + cert.string() + "\n    key_file: " + key.string() +
                          "\n    client_ca_file: " + ca_file.string() +
                          "\n    client_auth: require\n    min_version: \"1.3\"\n"));
    CHECK(c.server.tls.enabled());
    CHECK(c.server.tls.cert_file == cert);
    CHECK(c.server.tls.key_file == key);
    CHECK(c.server.tls.client_ca_file == ca_file);
    CHECK(c.server.tls.client_auth == config::ClientAuth::require);
    CHECK(c.server.tls.min_version == "1.3");

    const auto plain = accepted(k_upstream);
    CHECK_FALSE(plain.server.tls.enabled());
    CHECK(plain.server.tls.client_auth == config::ClientAuth::none);
    CHECK(plain.server.tls.min_version == "1.2");
}

TEST_CASE("a missing, unreadable or mismatched TLS file is an error naming its line and key",
          "[config]") {
    TempDir dir;
    const auto server = test_util::make_test_certificate("envcache.test");
    const auto other = test_util::make_test_certificate("someone else");
    const auto cert = dir.write("server.crt", server.cert_pem).string();
    const auto key = dir.write("server.key", server.key_pem).string();
    const auto other_key = dir.write("other.key", other.key_pem).string();
    const auto junk = dir.write("junk.pem", "not a certificate\n").string();
    const auto missing = (dir.path() / "missing.pem").string();

    CHECK(rejected(with_tls("    key_file: " + key + "\n")) ==
          "test.yml:5: server.tls.cert_file: is required to serve TLS");
    CHECK(rejected(with_tls("    cert_file: " + cert + "\n")) ==
          "test.yml:5: server.tls.key_file: is required to serve TLS");
    CHECK(rejected(with_tls("    cert_file: " + missing + "\n    key_file: " + key + "\n")) ==
          "test.yml:6: server.tls.cert_file: cannot read \"" + missing + "\"");
    CHECK(rejected(with_tls("    cert_file: " + junk + "\n    key_file: " + key + "\n")) ==
          "test.yml:6: server.tls.cert_file: \"" + junk + "\" holds no PEM certificate");
    CHECK(rejected(with_tls("    cert_file: " + cert + "\n    key_file: " + other_key + "\n")) ==
          "test.yml:7: server.tls.key_file: \"" + other_key +
              "\" is not the key of the certificate in \"" + cert + "\"");
    CHECK(rejected(with_tls("    cert_file: " + cert + "\n    key_file: " + cert + "\n")) ==
          "test.yml:7: server.tls.key_file: \"" + cert + "\" holds no unencrypted PEM private key");
}

TEST_CASE("client_auth and min_version take only their documented values", "[config]") {
    TempDir dir;
    const auto server = test_util::make_test_certificate("envcache.test");
    const std::string files = "    cert_file: " + dir.write("s.crt", server.cert_pem).string() +
                              "\n    key_file: " + dir.write("s.key", server.key_pem).string() +
                              "\n";
    CHECK(rejected(with_tls(files + "    client_auth: always\n")) ==
          "test.yml:8: server.tls.client_auth: \"always\" is not a mode (use none, optional or "
          "require)");
    CHECK(rejected(with_tls(files + "    client_auth: require\n")) ==
          "test.yml:8: server.tls.client_auth: needs client_ca_file: the CA that signs client "
          "certificates");
    // An empty client_ca_file is unset: refused by require, accepted with none.
    CHECK(rejected(with_tls(files + "    client_ca_file: \"\"\n    client_auth: require\n")) ==
          "test.yml:9: server.tls.client_auth: needs client_ca_file: the CA that signs client "
          "certificates");
    CHECK(
        accepted(with_tls(files + "    client_ca_file: \"\"\n")).server.tls.client_ca_file.empty());
    CHECK(accepted(with_tls(files + "    client_ca_file:\n")).server.tls.client_ca_file.empty());
    CHECK(rejected(with_tls(files + "    min_version: \"1.1\"\n")) ==
          "test.yml:8: server.tls.min_version: \"1.1\" is not a TLS version (use 1.2 or 1.3)");
    CHECK(rejected(with_tls(files + "    cert_fille: x\n")) ==
          "test.yml:8: server.tls.cert_fille: unknown key; did you mean cert_file?");
}
