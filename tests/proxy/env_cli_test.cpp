#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "proxy/cli/commands.hpp"
#include "tests/common/temp_dir.hpp"
#include "tests/proxy/cli_test_util.hpp"
#include "tests/proxy/environments_test_util.hpp"
#include "tests/proxy/loopback_server.hpp"

using namespace proxy;
using namespace proxy::test;
using namespace proxy::environments::test;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

// Serves the environment API of `f` on a loopback port, one request per connection.
class EnvServer {
  public:
    explicit EnvServer(EnvFixture& f)
        : m_server(serve_http([&f](const Request& req, const net::ip::address&) {
              const auto r = f.call(req.method_string(), req.target(), req.body());
              return to_response(r);
          })) {}

    std::string url() const { return m_server.url(); }

  private:
    LoopbackServer m_server;
};

Output run_env(std::vector<std::string> words) {
    return run_command(cli::env, std::move(words));
}

std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}

}  // namespace

TEST_CASE("envcache env resolve misses, register maps and names the image, then resolve hits",
          "[cli]") {
    EnvFixture f;
    f.upstream.add("localhost:5000/team/train:1", "local", "team/train", digest_of('d'));
    EnvServer server(f);
    test_util::TempDir dir("envcache-envcli");
    const auto file = dir.write("env.yml", k_env_yaml).string();
    dir.write("conda.yml", k_conda_yaml);

    auto miss = run_env({"resolve", file, "--server", server.url()});
    CHECK(miss.code == 1);
    const auto hash = first_line(miss.out);
    CHECK(hash.size() == 64);
    CHECK(miss.out == hash + "\nmiss: no image registered for this environment; build it\n");
    CHECK(miss.err.find("differs") == std::string::npos);

    const std::vector<std::string> register_train{
        "register", file,    "--server",  server.url(), "--image", "localhost:5000/team/train:1",
        "--name",   "train", "--version", "1"};
    auto registered = run_env(register_train);
    CHECK(registered.code == 0);
    CHECK(registered.out == hash + "\nimage localhost:5000/team/train:1\ntrain:1 registered\n");
    auto again = run_env(register_train);
    CHECK(again.code == 0);
    CHECK(again.out.ends_with("train:1 already registered\n"));

    auto hit = run_env({"resolve", file, "--server", server.url()});
    CHECK(hit.code == 0);
    CHECK(hit.out == hash + "\nhit localhost:5000/team/train:1@" + digest_of('d') + "\n");

    dir.write("conda.yml", k_conda_yaml_other);
    auto conflict = run_env(register_train);
    CHECK(conflict.code == 1);
    CHECK(conflict.err ==
          "envcache env: train:1 already exists with other content; versions are immutable\n");
}

TEST_CASE("envcache env says why a server could not be used, and exits 2", "[cli]") {
    EnvFixture f;
    EnvServer server(f);
    test_util::TempDir dir("envcache-envcli");
    const auto file = dir.write("env.yml", k_env_yaml).string();
    dir.write("conda.yml", k_conda_yaml);

    const auto port = std::to_string(closed_port());
    auto down = run_env({"resolve", file, "--server", "http://127.0.0.1:" + port});
    CHECK(down.code == 2);
    CHECK(down.err.starts_with("envcache env: cannot connect to 127.0.0.1:" + port + ": "));

    auto ftp = run_env({"hash", file, "--server", "ftp://127.0.0.1:" + port});
    CHECK(ftp.code == 2);
    CHECK(ftp.err == "envcache env: only http:// and https:// server URLs are supported\n");

    auto secret = run_env({"resolve", file, "--server", "http://ci:s3cret@127.0.0.1:" + port});
    CHECK(secret.code == 2);
    CHECK(secret.err.find("s3cret") == std::string::npos);

    // The upstream knows no such image: the API's message, not its JSON, is shown.
    auto unknown = run_env(
        {"register", file, "--server", server.url(), "--image", "localhost:5000/team/nope:1"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err.starts_with("envcache env: mapping "));
    CHECK(unknown.err.find("localhost:5000/team/nope:1 failed: ") != std::string::npos);
    CHECK(unknown.err.find("{\"errors\"") == std::string::npos);
}
