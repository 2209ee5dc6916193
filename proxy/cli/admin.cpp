// `envcache admin ...`: stats, limits, pins and eviction on a running server, as tables.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "config/units.hpp"
#include "proxy/cli/commands.hpp"
#include "proxy/cli/http_client.hpp"
#include "proxy/cli/server_access.hpp"

namespace proxy::cli {

namespace {

namespace json = boost::json;
namespace http = boost::beast::http;

constexpr std::string_view k_base = "/api/v1/admin";
// Evicting down to a target can take the server a while; the replies are small tables, but a
// server with many pins or upstreams may list a few MiB.
constexpr std::chrono::seconds k_timeout{60};
constexpr std::size_t k_body_limit = 64 * 1024 * 1024;

constexpr std::string_view k_admin_usage =
    "usage: envcache admin <command> [options] --server URL\n"
    "\n"
    "commands:\n"
    "  stats                          usage, limits, hit rates, evictions, upstreams\n"
    "  limits                         show the limits in force\n"
    "  limits --set KEY=VALUE ...     change them live (max_size=10GiB, high_watermark=0.9,\n"
    "                                 low_watermark=0.8, policy=s3fifo, max_age=30d)\n"
    "  limits --reset                 back to the config file's limits\n"
    "  pins                           list pins\n"
    "  pins add PIN | pins rm PIN     pin or unpin an image reference, digest or env hash\n"
    "  evict --target SIZE | --digest DIGEST [--dry-run]\n"
    "                                 evict down to SIZE, or one blob\n"
    "\n"
    "options:\n"
    "  --server URL       the envcache server (default $ENVCACHE_SERVER or\n"
    "                     http://127.0.0.1:5000)\n"
    "  --json             print the server's JSON instead of a table\n"
    "the server and its credentials (the admin token is a bearer token; default\n"
    "$ENVCACHE_ADMIN_TOKEN, if set):\n";

struct AdminOptions {
    std::string command;
    std::vector<std::string> words;  // positional arguments after the command
    std::vector<std::string> sets;
    bool reset = false;
    std::string target;
    std::string digest;
    bool dry_run = false;
    bool json = false;
    std::string server;
    HttpClientOptions http;  // TLS files and credentials
};

int usage_error(std::string_view message) {
    std::cerr << "envcache admin: " << message << "\n\n" << k_admin_usage << ServerAccess::usage();
    return 2;
}

std::string num(const json::value& v) {
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_double()) {
        std::ostringstream out;
        out << v.get_double();
        return out.str();
    }
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_bool()) return v.get_bool() ? "true" : "false";
    if (v.is_null()) return "-";
    return json::serialize(v);
}

std::uint64_t u64(const json::value* v) {
    if (!v) return 0;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() > 0) return static_cast<std::uint64_t>(v->get_int64());
    if (v->is_double() && v->get_double() > 0) return static_cast<std::uint64_t>(v->get_double());
    return 0;
}

double dbl(const json::value* v) {
    return v && v->is_number() ? v->to_number<double>() : 0.0;
}

std::string percent(double fraction) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << fraction * 100.0 << '%';
    return out.str();
}

// Rows of cells printed with every column padded to its widest cell.
class Table {
  public:
    void row(std::vector<std::string> cells) { m_rows.push_back(std::move(cells)); }
    void print(std::ostream& out, std::string_view indent = "") const {
        std::vector<std::size_t> width;
        for (const auto& r : m_rows)
            for (std::size_t i = 0; i < r.size(); ++i) {
                if (width.size() <= i) width.push_back(0);
                width[i] = std::max(width[i], r[i].size());
            }
        for (const auto& r : m_rows) {
            std::string line(indent);
            for (std::size_t i = 0; i < r.size(); ++i) {
                line += r[i];
                if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
            }
            out << line << '\n';
        }
    }

  private:
    std::vector<std::vector<std::string>> m_rows;
};

const json::value* field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->value();
}

void print_stats(const json::object& o) {
    const auto used = u64(field(o, "used_bytes"));
    const auto max = u64(field(o, "max_bytes"));
    const auto hits = u64(field(o, "hits"));
    const auto misses = u64(field(o, "misses"));
    Table t;
    t.row({"used", config::format_size(used) + " of " + config::format_size(max) + " (" +
                       percent(max ? static_cast<double>(used) / static_cast<double>(max) : 0) +
                       ")"});
    t.row({"watermarks", "high " + percent(dbl(field(o, "high_watermark"))) + ", low " +
                             percent(dbl(field(o, "low_watermark")))});
    t.row({"policy", field(o, "policy") ? num(*field(o, "policy")) : "-"});
    const auto max_age = u64(field(o, "max_age"));
    t.row({"max_age", max_age ? config::format_duration(std::chrono::seconds(max_age)) : "none"});
    t.row({"blobs", std::to_string(u64(field(o, "blobs"))) + " (" +
                        config::format_size(u64(field(o, "blob_bytes"))) + ")"});
    t.row({"hits / misses", std::to_string(hits) + " / " + std::to_string(misses) + " (hit ratio " +
                                percent(hits + misses ? static_cast<double>(hits) /
                                                            static_cast<double>(hits + misses)
                                                      : 0) +
                                ")"});
    t.row({"from cache", config::format_size(u64(field(o, "bytes_from_cache")))});
    t.row({"from upstream", config::format_size(u64(field(o, "bytes_from_upstream")))});
    t.row({"pinned blobs", std::to_string(u64(field(o, "protected_blobs")))});
    t.row({"in use", std::to_string(u64(field(o, "leased_blobs")))});
    t.print(std::cout);

    if (auto e = field(o, "evictions"); e && e->is_object()) {
        const json::value* bytes = field(o, "evicted_bytes");
        std::cout << "\nevictions\n";
        Table et;
        et.row({"REASON", "COUNT", "BYTES"});
        for (const auto& [reason, count] : e->get_object()) {
            const json::value* b =
                bytes && bytes->is_object() ? field(bytes->get_object(), reason) : nullptr;
            et.row({std::string(reason), num(count), config::format_size(u64(b))});
        }
        et.print(std::cout, "  ");
    }
    if (auto u = field(o, "upstreams"); u && u->is_object() && !u->get_object().empty()) {
        // Columns: the union of counter names, in first-seen order.
        std::vector<std::string> columns;
        for (const auto& [name, counters] : u->get_object())
            if (counters.is_object())
                for (const auto& [key, value] : counters.get_object())
                    if (std::find(columns.begin(), columns.end(), key) == columns.end())
                        columns.emplace_back(key);
        std::cout << "\nupstreams\n";
        Table ut;
        std::vector<std::string> header{"NAME"};
        for (const auto& c : columns) {
            std::string h = c;
            std::transform(h.begin(), h.end(), h.begin(), ::toupper);
            header.push_back(h);
        }
        ut.row(header);
        for (const auto& [name, counters] : u->get_object()) {
            std::vector<std::string> r{std::string(name)};
            for (const auto& c : columns) {
                const json::value* v =
                    counters.is_object() ? field(counters.get_object(), c) : nullptr;
                if (!v) {
                    r.emplace_back("-");
                } else if (c.find("bytes") != std::string::npos) {
                    r.push_back(config::format_size(u64(v)));
                } else {
                    r.push_back(num(*v));
                }
            }
            ut.row(r);
        }
        ut.print(std::cout, "  ");
    }
}

void print_limits(const json::object& o) {
    Table t;
    const auto max = u64(field(o, "max_size"));
    t.row({"max_size", config::format_size(max)});
    const double high = dbl(field(o, "high_watermark"));
    const double low = dbl(field(o, "low_watermark"));
    t.row({"high_watermark",
           num(*field(o, "high_watermark")) + " (" +
               config::format_size(static_cast<std::uint64_t>(static_cast<double>(max) * high)) +
               ")"});
    t.row({"low_watermark",
           num(*field(o, "low_watermark")) + " (" +
               config::format_size(static_cast<std::uint64_t>(static_cast<double>(max) * low)) +
               ")"});
    t.row({"policy", field(o, "policy") ? num(*field(o, "policy")) : "-"});
    const auto max_age = u64(field(o, "max_age"));
    t.row(
        {"max_age", max_age ? config::format_duration(std::chrono::seconds(max_age)) : "0 (none)"});
    t.print(std::cout);
}

void print_pins(const json::object& o) {
    auto p = field(o, "pins");
    if (!p || !p->is_array() || p->get_array().empty()) {
        std::cout << "no pins\n";
        return;
    }
    Table t;
    t.row({"PIN", "SOURCE", "MANIFEST"});
    for (const auto& pin : p->get_array()) {
        if (!pin.is_object()) continue;
        const auto& po = pin.get_object();
        const json::value* d = field(po, "digest");
        t.row({field(po, "pin") ? num(*field(po, "pin")) : "?",
               field(po, "source") ? num(*field(po, "source")) : "?",
               d && d->is_string() ? num(*d) : "(not stored yet)"});
    }
    t.print(std::cout);
}

void print_eviction(const json::object& o) {
    const bool dry =
        field(o, "dry_run") && field(o, "dry_run")->is_bool() && field(o, "dry_run")->get_bool();
    auto removed = field(o, "removed");
    if (removed && removed->is_array() && !removed->get_array().empty()) {
        Table t;
        t.row({"DIGEST", "SIZE"});
        for (const auto& r : removed->get_array()) {
            if (!r.is_object()) continue;
            t.row({num(*field(r.get_object(), "digest")),
                   config::format_size(u64(field(r.get_object(), "size")))});
        }
        t.print(std::cout);
        std::cout << '\n';
    }
    std::cout << (dry ? "would remove " : "removed ") << u64(field(o, "count")) << " blobs ("
              << config::format_size(u64(field(o, "bytes"))) << "); usage "
              << config::format_size(u64(field(o, "used_before"))) << " -> "
              << config::format_size(u64(field(o, "used_after"))) << (dry ? " (estimate)" : "")
              << '\n';
    if (auto reached = field(o, "reached_target");
        reached && reached->is_bool() && !reached->get_bool())
        std::cout << "target not reached: the rest is pinned or in use\n";
}

// "max_size=10GiB" -> {"max_size": "10GiB"}; watermarks as numbers.
std::optional<std::string> set_body(const std::vector<std::string>& sets, json::object& out) {
    for (const auto& s : sets) {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) return "--set wants KEY=VALUE, got \"" + s + "\"";
        const std::string key = s.substr(0, eq);
        const std::string value = s.substr(eq + 1);
        if (key == "high_watermark" || key == "low_watermark") {
            char* end = nullptr;
            const double d = std::strtod(value.c_str(), &end);
            if (value.empty() || *end != '\0') return key + " wants a number such as 0.9";
            out[key] = d;
        } else if (key == "max_size" || key == "policy" || key == "max_age") {
            out[key] = value;
        } else {
            return "unknown limit \"" + key +
                   "\" (max_size, high_watermark, low_watermark, policy, max_age)";
        }
    }
    return std::nullopt;
}

std::optional<AdminOptions> parse(Args args, std::string& problem) {
    AdminOptions o;
    if (const char* env = std::getenv("ENVCACHE_SERVER")) o.server = env;
    if (o.server.empty()) o.server = "http://127.0.0.1:5000";
    ServerAccess access("ENVCACHE_ADMIN_TOKEN");
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (const auto taken = access.take(args, i, problem)) {
            if (!*taken) return std::nullopt;
            continue;
        }
        auto value = [&](std::string& into) {
            if (i + 1 >= args.size()) {
                problem = std::string(a) + " needs a value";
                return false;
            }
            into = std::string(args[++i]);
            return true;
        };
        if (a == "--server") {
            if (!value(o.server)) return std::nullopt;
        } else if (a == "--set") {
            std::string s;
            if (!value(s)) return std::nullopt;
            o.sets.push_back(s);
        } else if (a == "--target") {
            if (!value(o.target)) return std::nullopt;
        } else if (a == "--digest") {
            if (!value(o.digest)) return std::nullopt;
        } else if (a == "--dry-run") {
            o.dry_run = true;
        } else if (a == "--reset") {
            o.reset = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--help" || a == "-h") {
            o.command = "help";
            return o;
        } else if (a.starts_with("--")) {
            problem = "unknown option " + std::string(a);
            return std::nullopt;
        } else if (o.command.empty()) {
            o.command = std::string(a);
        } else {
            o.words.emplace_back(a);
        }
    }
    if (!access.apply(o.http, problem)) return std::nullopt;
    return o;
}

// Sends one request to the admin API. Returns a 2xx reply; anything else is printed on stderr
// (without the token) and gives nullopt.
std::optional<HttpReply> send(const AdminOptions& o, http::verb method, std::string_view target,
                              std::string_view body = {}) {
    HttpClientOptions options = o.http;
    options.timeout = k_timeout;
    options.body_limit = k_body_limit;
    options.user_agent = "envcache-admin";
    const auto client = HttpClient::for_server(o.server, std::move(options));
    if (!client) {
        std::cerr << "envcache admin: " << client.error().message << '\n';
        return std::nullopt;
    }
    auto reply = client->call(method, std::string(k_base) + std::string(target), body);
    if (!reply) {
        std::cerr << "envcache admin: " << reply.error().message << '\n';
        return std::nullopt;
    }
    if (reply->status < 200 || reply->status >= 300) {
        std::cerr << "envcache admin: " << client->error_message(*reply) << '\n';
        return std::nullopt;
    }
    return std::move(*reply);
}

// Prints a 2xx reply with `print`, or as the server's JSON; the exit code.
int show(const std::optional<HttpReply>& reply, bool as_json, void (*print)(const json::object&)) {
    if (!reply) return 1;
    if (as_json) {
        std::cout << reply->body << '\n';
        return 0;
    }
    boost::system::error_code ec;
    auto value = json::parse(reply->body, ec);
    if (ec || !value.is_object()) {
        std::cerr << "envcache admin: the server's reply is not a JSON object\n";
        return 1;
    }
    print(value.get_object());
    return 0;
}

}  // namespace

int admin(Args args) {
    std::string problem;
    auto parsed = parse(args, problem);
    if (!parsed) return usage_error(problem);
    const AdminOptions& o = *parsed;

    if (o.command == "help") {
        std::cout << k_admin_usage << ServerAccess::usage();
        return 0;
    }
    if (o.command == "stats") {
        if (!o.words.empty()) return usage_error("stats takes no arguments");
        return show(send(o, http::verb::get, "/stats"), o.json, print_stats);
    }
    if (o.command == "limits") {
        if (!o.words.empty()) return usage_error("limits takes --set KEY=VALUE or --reset");
        if (o.reset && !o.sets.empty()) return usage_error("--reset and --set exclude each other");
        if (o.reset) return show(send(o, http::verb::delete_, "/limits"), o.json, print_limits);
        if (o.sets.empty()) return show(send(o, http::verb::get, "/limits"), o.json, print_limits);
        json::object body;
        if (auto bad = set_body(o.sets, body)) return usage_error(*bad);
        return show(send(o, http::verb::put, "/limits", json::serialize(body)), o.json,
                    print_limits);
    }
    if (o.command == "pins") {
        if (o.words.empty()) return show(send(o, http::verb::get, "/pins"), o.json, print_pins);
        if (o.words.size() != 2 || (o.words[0] != "add" && o.words[0] != "rm"))
            return usage_error("pins wants nothing, add PIN or rm PIN");
        std::optional<HttpReply> reply;
        if (o.words[0] == "add") {
            json::object body;
            body["pin"] = o.words[1];
            reply = send(o, http::verb::post, "/pins", json::serialize(body));
        } else {
            reply = send(o, http::verb::delete_,
                         "/pins/" + boost::urls::encode(o.words[1], boost::urls::unreserved_chars));
        }
        if (!reply) return 1;
        if (o.json) {
            std::cout << reply->body << '\n';
            return 0;
        }
        std::cout << (o.words[0] == "add" ? "pinned " : "unpinned ") << o.words[1] << '\n';
        return 0;
    }
    if (o.command == "evict") {
        if (!o.words.empty()) return usage_error("evict takes --target SIZE or --digest DIGEST");
        if (o.target.empty() == o.digest.empty())
            return usage_error("evict wants exactly one of --target SIZE and --digest DIGEST");
        json::object body;
        if (!o.target.empty()) {
            if (auto size = config::parse_size(o.target); !size)
                return usage_error("--target: " + size.error().message);
            body["target_size"] = o.target;
        } else {
            body["digest"] = o.digest;
        }
        if (o.dry_run) body["dry_run"] = true;
        return show(send(o, http::verb::post, "/evict", json::serialize(body)), o.json,
                    print_eviction);
    }
    if (o.command.empty()) return usage_error("which command?");
    return usage_error("unknown command \"" + o.command + "\"");
}

}  // namespace proxy::cli
