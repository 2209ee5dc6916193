// `envcache env ...`: hash, lint and render environment specs from files on disk.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "environment/bundle.hpp"
#include "environment/environment_hash.hpp"
#include "environment/record.hpp"
#include "environment/registry.hpp"
#include "environment/render.hpp"
#include "environment/spec.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/http_client.hpp"
#include "proxy/cli/server_access.hpp"

namespace proxy::cli {

namespace {

constexpr std::string_view k_env_usage =
    "usage: envcache env <command> ENV.yml [options]\n"
    "\n"
    "commands:\n"
    "  hash ENV.yml        environment hash on the first line of stdout, lint on stderr\n"
    "  canonical ENV.yml   the canonical text the hash is computed over\n"
    "  lint ENV.yml        drift findings on stdout; exit 1 if any is a warning\n"
    "  dockerfile ENV.yml  the Dockerfile a builder should use\n"
    "  resolve ENV.yml --server URL       ask a server whether the image exists\n"
    "  register ENV.yml --server URL --image REF [--name N --version V]\n"
    "\n"
    "options:\n"
    "  --offline             do not resolve the base image: hash the reference as written\n"
    "                        (the default when no --server is given)\n"
    "  --server URL          resolve through a running envcache\n"
    "  --requirements FILE   an extra requirements.txt (relative to the current directory)\n"
    "  --json                print everything as JSON (hash, dockerfile)\n"
    "  --context DIR         dockerfile: write Dockerfile and the files it copies into DIR\n"
    "the server and its credentials (bearer token default $ENVCACHE_TOKEN, if set):\n";

struct EnvOptions {
    std::string command;
    std::string file;
    bool offline = false;
    bool json = false;
    std::string server;
    std::optional<std::string> requirements;
    std::string context;
    std::string image;
    std::string name;
    std::string version;
    HttpClientOptions http;  // TLS files and credentials
};

int usage_error(std::string_view message) {
    std::cerr << "envcache env: " << message << "\n" << k_env_usage << ServerAccess::usage();
    return 2;
}

std::optional<EnvOptions> parse_options(Args args, std::string& problem) {
    EnvOptions o;
    if (args.empty()) {
        problem = "missing command";
        return std::nullopt;
    }
    o.command = std::string(args[0]);
    ServerAccess access("ENVCACHE_TOKEN");
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto a = args[i];
        if (const auto taken = access.take(args, i, problem)) {
            if (!*taken) return std::nullopt;
            continue;
        }
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) {
                problem = std::string(a) + " needs a value";
                return false;
            }
            out = std::string(args[++i]);
            return true;
        };
        if (a == "--offline") {
            o.offline = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--server") {
            if (!value(o.server)) return std::nullopt;
        } else if (a == "--requirements") {
            std::string r;
            if (!value(r)) return std::nullopt;
            o.requirements = r;
        } else if (a == "--context") {
            if (!value(o.context)) return std::nullopt;
        } else if (a == "--image") {
            if (!value(o.image)) return std::nullopt;
        } else if (a == "--name") {
            if (!value(o.name)) return std::nullopt;
        } else if (a == "--version") {
            if (!value(o.version)) return std::nullopt;
        } else if (a.starts_with("-")) {
            problem = "unknown option " + std::string(a);
            return std::nullopt;
        } else if (o.file.empty()) {
            o.file = std::string(a);
        } else {
            problem = "more than one environment file";
            return std::nullopt;
        }
    }
    if (o.file.empty()) {
        problem = "missing ENV.yml";
        return std::nullopt;
    }
    if (o.offline && !o.server.empty()) {
        problem = "--offline and --server exclude each other";
        return std::nullopt;
    }
    if (!access.apply(o.http, problem)) return std::nullopt;
    return o;
}

void print_findings(std::ostream& out, const std::vector<environment::Finding>& findings) {
    for (const auto& f : findings)
        out << f.str() << "\n";
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::cerr << "envcache env: cannot write " << path.string() << "\n";
        return false;
    }
    return true;
}

namespace http = boost::beast::http;

// A resolve may wait for the server to look the base image up upstream. The replies are a
// hash, a canonical text and an image reference: small.
constexpr std::chrono::seconds k_http_timeout{60};
constexpr std::size_t k_max_reply_bytes = 16 * 1024 * 1024;

HttpResult<HttpClient> client_for(const std::string& server, HttpClientOptions options) {
    options.timeout = k_http_timeout;
    options.body_limit = k_max_reply_bytes;
    options.user_agent = "envcache-cli";
    return HttpClient::for_server(server, std::move(options));
}

// The server's answer to POST /api/v1/environments/resolve.
struct ServerResolve {
    std::string hash;
    std::string canonical;
    std::string base_digest;           // from the canonical text's `base` line
    std::optional<std::string> image;  // "reference@digest" on a hit
};

std::optional<ServerResolve> server_resolve(const HttpClient& client,
                                            const environment::Bundle& bundle) {
    const auto reply = client.call(http::verb::post, "/api/v1/environments/resolve",
                                   boost::json::serialize(environment::bundle_to_json(bundle)));
    if (!reply) {
        std::cerr << "envcache env: " << reply.error().message << "\n";
        return std::nullopt;
    }
    if (reply->status != 200) {
        std::cerr << "envcache env: " << client.server() << ": " << client.error_message(*reply)
                  << "\n";
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto json = boost::json::parse(reply->body, ec);
    const auto* o = json.if_object();
    if (ec || o == nullptr || !o->contains("hash") || !o->at("hash").is_string() ||
        !o->contains("canonical") || !o->at("canonical").is_string()) {
        std::cerr << "envcache env: " << client.server() << " sent an unexpected resolve answer\n";
        return std::nullopt;
    }
    ServerResolve out;
    out.hash = std::string(o->at("hash").get_string());
    out.canonical = std::string(o->at("canonical").get_string());
    const auto base = out.canonical.find("\nbase ");
    if (base != std::string::npos) {
        const auto end = out.canonical.find('\n', base + 1);
        out.base_digest = out.canonical.substr(base + 6, end - base - 6);
    }
    if (const auto* image = o->if_contains("image"); image && image->is_object()) {
        const auto& i = image->get_object();
        if (i.contains("reference") && i.at("reference").is_string() && i.contains("digest") &&
            i.at("digest").is_string()) {
            std::string ref(i.at("reference").get_string());
            std::string digest(i.at("digest").get_string());
            const auto at = ref.find('@');
            out.image = (at == std::string::npos ? ref : ref.substr(0, at)) + "@" + digest;
        }
    }
    return out;
}

// Refuses a bad or reserved --name/--version before anything is sent; returns the exit code
// to stop with, or 0 to go on.
int check_register_options(const EnvOptions& o) {
    if (o.name.empty() != o.version.empty()) return usage_error("--name and --version go together");
    if (!o.name.empty()) {
        if (auto p = environment::name_problem(o.name); !p.empty()) return usage_error(p);
        if (auto p = environment::version_problem(o.version); !p.empty()) return usage_error(p);
        if (environment::is_reserved_name(o.name)) {
            std::cerr << "envcache env: names beginning with AzureML- or Microsoft are reserved "
                         "for curated environments (registered through the admin API)\n";
            return 2;
        }
    }
    return 0;
}

int register_environment(const HttpClient& client, const EnvOptions& o,
                         const environment::Bundle& bundle, const std::string& hash) {
    const auto mapped =
        client.call(http::verb::put, "/api/v1/environments/by-hash/" + hash,
                    boost::json::serialize(boost::json::object{{"image", o.image}}));
    if (!mapped || (mapped->status != 200 && mapped->status != 201)) {
        std::cerr << "envcache env: mapping " << hash << " to " << o.image << " failed: "
                  << (mapped ? client.error_message(*mapped) : mapped.error().message) << "\n";
        return 2;
    }
    std::cout << hash << "\n"
              << "image " << o.image << "\n";
    if (o.name.empty()) return 0;
    const auto named =
        client.call(http::verb::put, "/api/v1/environments/" + o.name + "/versions/" + o.version,
                    boost::json::serialize(environment::bundle_to_json(bundle)));
    if (!named) {
        std::cerr << "envcache env: " << named.error().message << "\n";
        return 2;
    }
    switch (named->status) {
        case 201:
            std::cout << o.name << ":" << o.version << " registered\n";
            return 0;
        case 200:
            std::cout << o.name << ":" << o.version << " already registered\n";
            return 0;
        case 409:
            std::cerr << "envcache env: " << o.name << ":" << o.version
                      << " already exists with other content; versions are immutable\n";
            return 1;
        default:
            std::cerr << "envcache env: registering " << o.name << ":" << o.version
                      << " failed: " << client.error_message(*named) << "\n";
            return 2;
    }
}

}  // namespace

int env(Args args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
        std::cout << k_env_usage << ServerAccess::usage();
        return 0;
    }
    std::string problem;
    const auto options = parse_options(args, problem);
    if (!options) return usage_error(problem);
    const auto& o = *options;
    if (o.command != "hash" && o.command != "canonical" && o.command != "lint" &&
        o.command != "dockerfile" && o.command != "resolve" && o.command != "register")
        return usage_error("unknown command '" + o.command + "'");

    if ((o.command == "resolve" || o.command == "register") && o.server.empty())
        return usage_error(o.command + " needs --server URL");
    if (o.command == "register" && o.image.empty()) return usage_error("register needs --image");
    if (o.command == "register") {
        if (const int rc = check_register_options(o); rc != 0) return rc;
    }
    std::optional<HttpClient> client;
    if (!o.server.empty()) {
        auto made = client_for(o.server, o.http);
        if (!made) {
            std::cerr << "envcache env: " << made.error().message << "\n";
            return 2;
        }
        client.emplace(std::move(*made));
    }

    auto bundle = environment::load_bundle(o.file, o.requirements);
    if (!bundle) {
        std::cerr << "envcache env: " << bundle.error().str() << "\n";
        return 2;
    }
    auto spec = environment::parse_spec(*bundle);
    if (!spec) {
        std::cerr << "envcache env: " << spec.error().str() << "\n";
        return 2;
    }
    // Offline: no resolver (a base written with a digest needs none anyway). With a server,
    // the server hashes the bundle; its canonical text names the base digest it resolved,
    // and the local hash over that digest must agree.
    std::optional<ServerResolve> remote;
    environment::ResolveImage resolve;
    if (client) {
        remote = server_resolve(*client, *bundle);
        if (!remote) return 2;
        if (!environment::is_sha256_digest(remote->base_digest)) {
            std::cerr << "envcache env: the server did not resolve the base image\n";
            return 2;
        }
        resolve = environment::resolved_to(remote->base_digest);
    }
    auto hashed = environment::hash_environment(*spec, resolve);
    if (!hashed) {
        std::cerr << "envcache env: " << hashed.error().str() << "\n";
        return 2;
    }
    if (remote && remote->hash != hashed->hash) {
        std::cerr << "envcache env: the server's hash " << remote->hash
                  << " differs from the local hash " << hashed->hash
                  << " (different envcache versions?); using the server's\n";
        hashed->hash = remote->hash;
        hashed->canonical = remote->canonical;
    }
    const auto& h = *hashed;
    const bool unresolved = !h.base.resolved();
    const std::string& hash = h.hash;

    if (o.command == "resolve") {
        std::cout << hash << "\n";
        print_findings(std::cerr, h.findings);
        if (remote->image) {
            std::cout << "hit " << *remote->image << "\n";
            return 0;
        }
        std::cout << "miss: no image registered for this environment; build it\n";
        return 1;
    }
    if (o.command == "register") return register_environment(*client, o, *bundle, hash);

    if (o.command == "hash") {
        if (o.json) {
            std::cout << boost::json::serialize(environment::hashed_to_json(h)) << "\n";
            return 0;
        }
        std::cout << h.hash << "\n";
        if (unresolved)
            std::cerr << "envcache env: offline: base image " << h.base.reference
                      << " not resolved to a digest; this hash is not stable\n";
        print_findings(std::cerr, h.findings);
        return 0;
    }
    if (o.command == "canonical") {
        std::cout << h.canonical;
        return 0;
    }
    if (o.command == "lint") {
        if (o.json) {
            boost::json::array lint;
            for (const auto& f : h.findings)
                lint.push_back(environment::finding_to_json(f));
            std::cout << boost::json::serialize(lint) << "\n";
        } else {
            print_findings(std::cout, h.findings);
        }
        return environment::has_warnings(h.findings) ? 1 : 0;
    }
    // dockerfile
    const auto build = environment::render_build(*spec, h);
    if (!o.context.empty()) {
        const std::filesystem::path dir(o.context);
        if (!write_file(dir / "Dockerfile", build.dockerfile)) return 2;
        for (const auto& f : build.files)
            if (!write_file(dir / f.path, f.text)) return 2;
    }
    if (o.json) {
        boost::json::object files;
        for (const auto& f : build.files)
            files[f.path] = f.text;
        boost::json::object out{{"hash", h.hash},
                                {"dockerfile", build.dockerfile},
                                {"files", std::move(files)},
                                {"offline", h.offline}};
        std::cout << boost::json::serialize(out) << "\n";
    } else {
        std::cout << build.dockerfile;
    }
    if (unresolved)
        std::cerr << "envcache env: offline: base image " << h.base.reference
                  << " not resolved to a digest; FROM uses the tag\n";
    print_findings(std::cerr, h.findings);
    return 0;
}

}  // namespace proxy::cli
