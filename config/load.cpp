#include "config/load.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/secret.hpp"
#include "config/tls_files.hpp"
#include "config/units.hpp"
#include "config/url.hpp"

namespace config {

std::string ConfigError::message() const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    if (!key.empty()) out += key + ": ";
    out += reason;
    return out;
}

void throw_exception_from_error(const ConfigError& e, const boost::source_location&) {
    throw std::runtime_error(e.message());
}

namespace {

using Keys = std::span<const std::string_view>;

constexpr std::uint64_t k_max_hot_blob = 64ull << 20;
constexpr std::uint64_t k_min_map_size = 1ull << 20;  // a map the store can still open in

// Where each document of a YAML stream starts, and where its root node is; no node is built.
class DocumentStarts : public YAML::EventHandler {
  public:
    std::vector<YAML::Mark> starts;
    std::vector<YAML::Mark> roots;

    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

  private:
    void node(const YAML::Mark& mark) {
        if (roots.size() < starts.size()) roots.push_back(mark);
    }
};

// The problem with a stream that is not one YAML document: a second document, or a place where
// the parser stops making progress. (yaml-cpp 0.7's LoadAll never returns there: on a stray ','
// it yields empty documents at the same place forever, so documents are walked here, at most
// three.) Throws YAML::ParserException for malformed YAML, as the loader does.
std::optional<ConfigError> not_one_document(const std::string& text, const std::string& file) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts documents;
    auto& starts = documents.starts;
    while (starts.size() < 3 && parser.HandleNextDocument(documents)) {
        if (starts.size() >= 2 && starts.back().pos == starts[starts.size() - 2].pos) {
            const auto at = static_cast<std::size_t>(std::max(starts.back().pos, 0));
            std::string reason = "not valid YAML: unexpected ";
            const unsigned char c = at < text.size() ? text[at] : 0;
            reason += std::isgraph(c) ? "'" + std::string(1, static_cast<char>(c)) + "'"
                                      : std::string("character");
            return ConfigError{file, starts.back().line + 1, "", std::move(reason)};
        }
    }
    if (starts.size() > 1)
        return ConfigError{file,
                           (documents.roots.size() > 1 ? documents.roots[1] : starts[1]).line + 1,
                           "", "holds more than one YAML document; expected one"};
    return std::nullopt;
}

// The keys each mapping may hold. Anything else is an error, so a typo never goes unnoticed.
// clang-format off
constexpr std::array<std::string_view, 11> k_top_keys{
    "listen", "threads", "storage", "eviction", "upstreams", "prefetch", "server",
    "admin_token", "admin_token_env", "admin_token_file", "access"};
constexpr std::array<std::string_view, 8> k_storage_keys{
    "path",          "max_size",    "map_size", "high_watermark", "low_watermark",
    "background_nice", "compression", "hot"};
constexpr std::array<std::string_view, 2> k_compression_keys{"level", "min_saving"};
constexpr std::array<std::string_view, 2> k_hot_keys{"max_size", "max_blob"};
constexpr std::array<std::string_view, 3> k_eviction_keys{"policy", "max_age", "pins"};
constexpr std::array<std::string_view, 21> k_upstream_keys{
    "name", "url", "default", "tag_ttl", "username", "password_env", "password_file", "ca_file",
    "insecure_skip_verify", "connect_timeout", "read_timeout", "retries", "retry_budget",
    "revalidate_timeout", "stale_while_revalidate", "negative_ttl", "breaker_failures",
    "breaker_probe_interval", "access", "decision_ttl", "denial_ttl"};
constexpr std::array<std::string_view, 8> k_server_keys{
    "max_connections", "header_timeout", "idle_timeout",   "shutdown_grace",
    "max_header_bytes", "max_body_bytes", "scale_loops", "tls"};
constexpr std::array<std::string_view, 5> k_tls_keys{
    "cert_file", "key_file", "client_ca_file", "client_auth", "min_version"};
constexpr std::array<std::string_view, 5> k_access_keys{
    "htpasswd_file", "tokens_file", "issued_token_ttl", "groups", "rules"};
constexpr std::array<std::string_view, 4> k_rule_keys{"who", "pull", "environments", "admin"};
// clang-format on

struct Section {
    std::string_view path;
    Keys keys;
};

// Every mapping the file may hold, to point at the right place for a key written at the wrong
// level ("max_size" at the top level: did you mean storage.max_size?).
const std::array<Section, 10> k_sections{{
    {"", k_top_keys},
    {"storage", k_storage_keys},
    {"storage.compression", k_compression_keys},
    {"storage.hot", k_hot_keys},
    {"eviction", k_eviction_keys},
    {"upstreams[]", k_upstream_keys},
    {"server", k_server_keys},
    {"server.tls", k_tls_keys},
    {"access", k_access_keys},
    {"access.rules[]", k_rule_keys},
}};

constexpr std::array<std::string_view, 5> k_policies{"lru", "lfu", "s3fifo", "sieve", "wtinylfu"};

constexpr unsigned k_max_threads = 1024;
constexpr unsigned k_max_retries = 10;
constexpr unsigned k_max_breaker_failures = 1000;

// Thrown inside the loader only; load_from_string() turns it into a ConfigError value.
struct Rejected {
    ConfigError error;
};

// Where a value sits: the line to report and the dotted key path.
struct At {
    YAML::Mark mark;
    std::string path;

    At child(const YAML::Mark& m, std::string_view key) const {
        return At{m, path.empty() ? std::string(key) : path + "." + std::string(key)};
    }
};

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string format_number(double d) {
    std::ostringstream out;
    out << d;
    return out.str();
}

// What a node holds, for "expected X, found Y". Scalars are quoted: never call this on a
// secret's value.
std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return in_quotes(n.Scalar());
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

// Levenshtein distance, case-insensitive.
std::size_t edit_distance(std::string_view a_in, std::string_view b_in) {
    const auto a = lower(a_in);
    const auto b = lower(b_in);
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

// The closest of `choices` to `word`, if it is close enough to be a likely typo.
std::optional<std::string_view> closest(std::string_view word, Keys choices) {
    const std::size_t limit = word.size() <= 4 ? 1 : 2;
    std::optional<std::string_view> best;
    std::size_t best_distance = limit + 1;
    for (const auto& c : choices) {
        const auto d = edit_distance(word, c);
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::string unknown_key_reason(std::string_view key, std::string_view section_path, Keys allowed) {
    if (const auto near = closest(key, allowed))
        return "unknown key; did you mean " + std::string(*near) + "?";
    for (const auto& section : k_sections) {
        if (section.path == section_path) continue;
        for (const auto& k : section.keys) {
            if (lower(k) == lower(key)) {
                const auto full = section.path.empty()
                                      ? std::string(k)
                                      : std::string(section.path) + "." + std::string(k);
                return "unknown key here; did you mean " + full + "?";
            }
        }
    }
    std::string list;
    for (const auto& k : allowed)
        list += (list.empty() ? "" : ", ") + std::string(k);
    return "unknown key (known here: " + list + ")";
}

bool valid_upstream_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
               c == ':';
    });
}

class Loader {
  public:
    explicit Loader(std::string file) : m_file(std::move(file)) {}

    Config run(const YAML::Node& root) {
        Config c;
        if (root.IsNull())
            fail(YAML::Mark{}, "",
                 "the file is empty; expected a mapping of settings such as "
                 "`listen: 127.0.0.1:5000` (see config/envcache.yml)");
        if (!root.IsMap())
            fail(root.Mark(), "",
                 "expected a mapping of settings at the top level, found " + describe(root));
        check_keys(root, "", k_top_keys);

        const At top{root.Mark(), ""};
        std::optional<At> token_at, token_env_at, token_file_at, access_at;
        YAML::Node access_node;
        bool have_upstreams = false;
        for (const auto& kv : root) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At at = top.child(kv.first.Mark(), key);
            if (key == "listen") {
                // `listen: [::1]` is YAML for a list; say how to write an IPv6 address.
                if (v.IsSequence())
                    fail(at,
                         "expected host:port, found a list; quote IPv6 addresses: listen: "
                         "\"[::1]:5000\"");
                c.listen = read_scalar(v, at, "host:port");
                if (const auto parsed = parse_host_port(c.listen); !parsed)
                    fail(at, parsed.error().message);
            } else if (key == "threads") {
                c.threads = static_cast<unsigned>(read_uint(v, at, 0, k_max_threads));
            } else if (key == "storage") {
                read_storage(v, at, c.storage);
            } else if (key == "eviction") {
                read_eviction(v, at, c.eviction);
            } else if (key == "upstreams") {
                c.upstreams = read_upstreams(v, at);
                have_upstreams = true;
            } else if (key == "prefetch") {
                c.prefetch = read_bool(v, at);
            } else if (key == "server") {
                read_server(v, at, c.server);
            } else if (key == "admin_token") {
                c.admin_token = read_string(v, at);
                if (!c.admin_token.empty()) token_at = at;
            } else if (key == "admin_token_env") {
                c.admin_token_env = read_string(v, at);
                if (!c.admin_token_env.empty()) token_env_at = at;
            } else if (key == "admin_token_file") {
                c.admin_token_file = read_string(v, at);
                if (!c.admin_token_file.empty()) token_file_at = at;
            } else if (key == "access") {
                access_node = v;  // read once the upstreams it names are known
                access_at = at;
            } else {
                unhandled(at);
            }
        }
        if (!have_upstreams)
            fail(top.child(root.Mark(), "upstreams"),
                 "is required: at least one upstream registry (name and url)");
        read_admin_token(c, token_at, token_env_at, token_file_at);
        if (access_at) read_access(access_node, *access_at, c);
        return c;
    }

  private:
    [[noreturn]] void fail(const YAML::Mark& mark, std::string key, std::string reason) const {
        const int line = mark.is_null() ? 0 : mark.line + 1;
        throw Rejected{ConfigError{m_file, line, std::move(key), std::move(reason)}};
    }
    [[noreturn]] void fail(const At& at, std::string reason) const {
        fail(at.mark, at.path, std::move(reason));
    }
    // A key passed check_keys() but the reader has no branch for it: a bug here, not in the file.
    [[noreturn]] void unhandled(const At& at) const { fail(at, "internal error: key not read"); }

    // Unknown, duplicate and non-name keys are errors. `path` is the section's dotted path.
    void check_keys(const YAML::Node& map, const std::string& path, Keys allowed,
                    std::string_view section_path) const {
        std::map<std::string, int> seen;
        const At here{map.Mark(), path};
        for (const auto& kv : map) {
            if (!kv.first.IsScalar())
                fail(kv.first.Mark(), path,
                     "keys must be plain names, found " + describe(kv.first));
            const auto key = kv.first.Scalar();
            const At at = here.child(kv.first.Mark(), key);
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
                fail(at, unknown_key_reason(key, section_path, allowed));
            const auto [it, inserted] = seen.emplace(key, at.mark.line + 1);
            if (!inserted)
                fail(at, "appears twice (first on line " + std::to_string(it->second) + ")");
        }
    }
    void check_keys(const YAML::Node& map, const std::string& path, Keys allowed) const {
        check_keys(map, path, allowed, path);
    }

    // True for a mapping, false for an empty value (keep the defaults); anything else fails.
    bool expect_mapping(const YAML::Node& n, const At& at) const {
        if (n.IsNull()) return false;
        if (!n.IsMap()) fail(at, "expected a mapping, found " + describe(n));
        return true;
    }

    // The text of a scalar; fails for lists, mappings and empty values.
    std::string read_scalar(const YAML::Node& n, const At& at, std::string_view expected) const {
        if (n.IsNull()) fail(at, "needs a value (" + std::string(expected) + ")");
        if (!n.IsScalar()) fail(at, "expected " + std::string(expected) + ", found " + describe(n));
        return n.Scalar();
    }

    // A string; an empty value is "". Never echoes the value (it may be a secret).
    std::string read_string(const YAML::Node& n, const At& at) const {
        if (n.IsNull()) return {};
        if (!n.IsScalar()) fail(at, "expected a string, found " + describe(n));
        return n.Scalar();
    }

    bool read_bool(const YAML::Node& n, const At& at) const {
        const auto text = read_scalar(n, at, "true or false");
        const auto l = lower(text);
        if (l == "true") return true;
        if (l == "false") return false;
        fail(at, "expected true or false, found " + in_quotes(text));
    }

    std::uint64_t read_uint(const YAML::Node& n, const At& at, std::uint64_t min,
                            std::uint64_t max) const {
        const auto text = read_scalar(n, at, "a whole number");
        if (text.starts_with('-')) fail(at, in_quotes(text) + " must not be negative");
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc::result_out_of_range) fail(at, in_quotes(text) + " is too large");
        if (ec != std::errc{} || end != text.data() + text.size())
            fail(at, "expected a whole number, found " + in_quotes(text));
        if (value < min || value > max) {
            fail(at, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", found " + text);
        }
        return value;
    }

    double read_number(const YAML::Node& n, const At& at) const {
        const auto text = read_scalar(n, at, "a number");
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
            fail(at, "expected a number such as 0.95, found " + in_quotes(text));
        return value;
    }

    std::uint64_t read_size(const YAML::Node& n, const At& at) const {
        const auto parsed = parse_size(read_scalar(n, at, "a size such as 20GiB"));
        if (!parsed) fail(at, parsed.error().message);
        return *parsed;
    }

    Seconds read_duration(const YAML::Node& n, const At& at) const {
        const auto parsed = parse_duration(read_scalar(n, at, "a duration such as 5m"));
        if (!parsed) fail(at, parsed.error().message);
        return *parsed;
    }

    std::vector<std::string> read_string_list(const YAML::Node& n, const At& at) const {
        std::vector<std::string> out;
        if (n.IsNull()) return out;
        if (!n.IsSequence()) fail(at, "expected a list, found " + describe(n));
        for (std::size_t i = 0; i < n.size(); ++i) {
            const At item{n[i].Mark(), at.path + "[" + std::to_string(i) + "]"};
            auto s = read_scalar(n[i], item, "a string");
            if (s.empty()) fail(item, "must not be empty");
            out.push_back(std::move(s));
        }
        return out;
    }

    void read_storage(const YAML::Node& n, const At& at, StorageConfig& s) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_storage_keys);
        std::optional<At> high_at, low_at;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "path") {
                s.path = read_scalar(v, child, "a directory");
                if (s.path.empty()) fail(child, "must not be empty");
            } else if (key == "max_size") {
                s.max_size = read_size(v, child);
                if (s.max_size == 0) fail(child, "must be greater than 0");
            } else if (key == "map_size") {
                s.map_size = read_size(v, child);
                if (s.map_size != 0 && s.map_size < k_min_map_size)
                    fail(child, "must be 0 (the default) or at least 1MiB");
            } else if (key == "high_watermark") {
                s.high_watermark = read_number(v, child);
                high_at = child;
            } else if (key == "low_watermark") {
                s.low_watermark = read_number(v, child);
                low_at = child;
            } else if (key == "background_nice") {
                s.background_nice = static_cast<int>(read_uint(v, child, 0, 19));
            } else if (key == "compression") {
                read_compression(v, child, s.compression);
            } else if (key == "hot") {
                read_hot(v, child, s.hot);
            } else {
                unhandled(child);
            }
        }
        const auto in_range = [](double w) { return w > 0.0 && w <= 1.0; };
        if (high_at && !in_range(s.high_watermark))
            fail(*high_at,
                 "must be greater than 0 and at most 1, found " + format_number(s.high_watermark));
        if (low_at && !in_range(s.low_watermark))
            fail(*low_at,
                 "must be greater than 0 and at most 1, found " + format_number(s.low_watermark));
        if (s.low_watermark >= s.high_watermark) {
            const auto low = format_number(s.low_watermark);
            const auto high = format_number(s.high_watermark);
            if (low_at) fail(*low_at, low + " must be below high_watermark (" + high + ")");
            fail(*high_at, high + " must be above low_watermark (" + low + ", the default)");
        }
    }

    void read_compression(const YAML::Node& n, const At& at, CompressionConfig& c) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_compression_keys);
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "level") {
                c.level = static_cast<int>(read_uint(v, child, 1, 19));
            } else if (key == "min_saving") {
                c.min_saving = read_number(v, child);
                if (c.min_saving < 0.0 || c.min_saving >= 1.0)
                    fail(child,
                         "must be at least 0 and below 1, found " + format_number(c.min_saving));
            } else {
                unhandled(child);
            }
        }
    }

    void read_hot(const YAML::Node& n, const At& at, HotConfig& h) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_hot_keys);
        std::optional<At> size_at, blob_at;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "max_size") {
                h.max_size = read_size(v, child);
                size_at = child;
            } else if (key == "max_blob") {
                h.max_blob = read_size(v, child);
                blob_at = child;
                if (h.max_blob > k_max_hot_blob)
                    fail(child,
                         "must be at most 64MiB (larger blobs stream from the store as "
                         "fast as from memory)");
            } else {
                unhandled(child);
            }
        }
        if (h.max_size > 0 && h.max_blob > h.max_size) {
            if (blob_at || !size_at)
                fail(blob_at ? *blob_at : at,
                     "must not exceed storage.hot.max_size (" + format_size(h.max_size) + ")");
            fail(*size_at, "must be 0 (off) or at least max_blob (" + format_size(h.max_blob) +
                               ", the default)");
        }
    }

    void read_eviction(const YAML::Node& n, const At& at, EvictionConfig& e) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_eviction_keys);
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "policy") {
                e.policy = read_scalar(v, child, "a policy name");
                if (std::find(k_policies.begin(), k_policies.end(), e.policy) == k_policies.end()) {
                    std::string reason = in_quotes(e.policy) + " is not a policy (use ";
                    for (std::size_t i = 0; i < k_policies.size(); ++i)
                        reason += (i ? ", " : "") + std::string(k_policies[i]);
                    reason += ")";
                    if (const auto near = closest(e.policy, k_policies))
                        reason += "; did you mean " + std::string(*near) + "?";
                    fail(child, reason);
                }
            } else if (key == "max_age") {
                e.max_age = read_duration(v, child);
            } else if (key == "pins") {
                e.pins = read_string_list(v, child);
            } else {
                unhandled(child);
            }
        }
    }

    void read_server(const YAML::Node& n, const At& at, ServerConfig& s) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_server_keys);
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            const auto positive_duration = [&] {
                const auto d = read_duration(v, child);
                if (d.count() == 0) fail(child, "must be greater than 0");
                return d;
            };
            const auto positive_size = [&] {
                const auto bytes = read_size(v, child);
                if (bytes == 0) fail(child, "must be greater than 0");
                return static_cast<std::size_t>(bytes);
            };
            if (key == "max_connections") {
                s.max_connections = read_uint(v, child, 1, 1'000'000);
            } else if (key == "header_timeout") {
                s.header_timeout = positive_duration();
            } else if (key == "idle_timeout") {
                s.idle_timeout = positive_duration();
            } else if (key == "shutdown_grace") {
                s.shutdown_grace = read_duration(v, child);
            } else if (key == "max_header_bytes") {
                s.max_header_bytes = positive_size();
            } else if (key == "max_body_bytes") {
                s.max_body_bytes = positive_size();
            } else if (key == "scale_loops") {
                s.scale_loops = read_bool(v, child);
            } else if (key == "tls") {
                read_tls(v, child, s.tls);
            } else {
                unhandled(child);
            }
        }
    }

    void read_tls(const YAML::Node& n, const At& at, TlsConfig& t) const {
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_tls_keys);
        std::optional<At> cert_at, key_at, ca_at, auth_at;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "cert_file") {
                t.cert_file = read_scalar(v, child, "a PEM file");
                cert_at = child;
            } else if (key == "key_file") {
                t.key_file = read_scalar(v, child, "a PEM file");
                key_at = child;
            } else if (key == "client_ca_file") {
                t.client_ca_file = read_string(v, child);  // empty: unset
                if (!t.client_ca_file.empty()) ca_at = child;
            } else if (key == "client_auth") {
                const auto mode = read_scalar(v, child, "none, optional or require");
                if (mode == "none")
                    t.client_auth = ClientAuth::none;
                else if (mode == "optional")
                    t.client_auth = ClientAuth::optional;
                else if (mode == "require")
                    t.client_auth = ClientAuth::require;
                else
                    fail(child, in_quotes(mode) + " is not a mode (use none, optional or require)");
                auth_at = child;
            } else if (key == "min_version") {
                t.min_version = read_scalar(v, child, "1.2 or 1.3");
                if (t.min_version != "1.2" && t.min_version != "1.3")
                    fail(child,
                         in_quotes(t.min_version) + " is not a TLS version (use 1.2 or 1.3)");
            } else {
                unhandled(child);
            }
        }
        if (!cert_at) fail(at.child(at.mark, "cert_file"), "is required to serve TLS");
        if (!key_at) fail(at.child(at.mark, "key_file"), "is required to serve TLS");
        if (const auto problem = certificate_file_problem(t.cert_file)) fail(*cert_at, *problem);
        if (const auto problem = key_file_problem(t.key_file, t.cert_file)) fail(*key_at, *problem);
        if (t.client_auth != ClientAuth::none && !ca_at)
            fail(*auth_at, "needs client_ca_file: the CA that signs client certificates");
        if (ca_at && t.client_auth == ClientAuth::none)
            fail(*ca_at,
                 "is unused while client_auth is none (set client_auth: optional or require)");
        if (ca_at)
            if (const auto problem = certificate_file_problem(t.client_ca_file))
                fail(*ca_at, *problem);
    }

    std::vector<UpstreamConfig> read_upstreams(const YAML::Node& n, const At& at) const {
        if (n.IsNull() || (n.IsSequence() && n.size() == 0))
            fail(at, "needs at least one upstream registry (name and url)");
        if (!n.IsSequence())
            fail(at, "expected a list of upstreams (- name: ..., url: ...), found " + describe(n));

        std::vector<UpstreamConfig> out;
        std::vector<At> default_at;
        for (std::size_t i = 0; i < n.size(); ++i) {
            const At item{n[i].Mark(), at.path + "[" + std::to_string(i) + "]"};
            std::optional<At> name_at, default_key_at;
            out.push_back(read_upstream(n[i], item, name_at, default_key_at));
            const auto& u = out.back();
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (lower(out[j].name) == lower(u.name))
                    fail(*name_at, in_quotes(u.name) + " is already the name of " + at.path + "[" +
                                       std::to_string(j) + "]");
            }
            if (u.is_default) {
                if (!default_at.empty())
                    fail(*default_key_at, "only one upstream can be the default; " +
                                              default_at.front().path + " already is");
                default_at.push_back(*default_key_at);
            }
        }
        if (default_at.empty()) {
            if (out.size() > 1)
                fail(at, "with several upstreams, mark exactly one with `default: true`");
            out.front().is_default = true;
        }
        return out;
    }

    UpstreamConfig read_upstream(const YAML::Node& n, const At& at, std::optional<At>& name_at,
                                 std::optional<At>& default_at) const {
        if (!n.IsMap()) fail(at, "expected a mapping with name and url, found " + describe(n));
        check_keys(n, at.path, k_upstream_keys, "upstreams[]");

        UpstreamConfig u;
        std::optional<At> url_at, password_env_at, password_file_at, ca_file_at, denial_at;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "name") {
                u.name = read_scalar(v, child, "a registry name such as docker.io");
                if (!valid_upstream_name(u.name))
                    fail(child, in_quotes(u.name) +
                                    " is not a registry name (letters, digits, '.', '-', '_', "
                                    "':'; no '/'), e.g. docker.io or localhost:5001");
                name_at = child;
            } else if (key == "url") {
                const auto url = parse_upstream_url(
                    read_scalar(v, child, "a URL such as https://registry-1.docker.io"));
                if (!url) fail(child, url.error().message);
                u.url = url->text();
                url_at = child;
            } else if (key == "default") {
                u.is_default = read_bool(v, child);
                default_at = child;
            } else if (key == "tag_ttl") {
                u.tag_ttl = read_duration(v, child);
            } else if (key == "username") {
                u.username = read_string(v, child);
            } else if (key == "password_env") {
                u.password_env = read_string(v, child);
                if (!u.password_env.empty()) password_env_at = child;
            } else if (key == "password_file") {
                u.password_file = read_string(v, child);
                if (!u.password_file.empty()) password_file_at = child;
            } else if (key == "ca_file") {
                u.ca_file = read_string(v, child);
                if (!u.ca_file.empty()) ca_file_at = child;
            } else if (key == "insecure_skip_verify") {
                u.insecure_skip_verify = read_bool(v, child);
            } else if (key == "connect_timeout") {
                u.connect_timeout = read_duration(v, child);
                if (u.connect_timeout.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "read_timeout") {
                u.read_timeout = read_duration(v, child);
                if (u.read_timeout.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "retries") {
                u.retries = static_cast<unsigned>(read_uint(v, child, 0, k_max_retries));
            } else if (key == "retry_budget") {
                u.retry_budget = read_number(v, child);
                if (u.retry_budget < 0 || u.retry_budget > 1)
                    fail(child, "must be between 0 and 1 (a share of requests), found " +
                                    in_quotes(v.Scalar()));
            } else if (key == "revalidate_timeout") {
                u.revalidate_timeout = read_duration(v, child);
                if (u.revalidate_timeout.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "stale_while_revalidate") {
                u.stale_while_revalidate = read_duration(v, child);
            } else if (key == "negative_ttl") {
                u.negative_ttl = read_duration(v, child);
            } else if (key == "breaker_failures") {
                u.breaker_failures =
                    static_cast<unsigned>(read_uint(v, child, 0, k_max_breaker_failures));
            } else if (key == "breaker_probe_interval") {
                u.breaker_probe_interval = read_duration(v, child);
                if (u.breaker_probe_interval.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "access") {
                const auto mode = read_scalar(v, child, "shared or passthrough");
                if (mode == "shared")
                    u.access = UpstreamConfig::Access::shared;
                else if (mode == "passthrough")
                    u.access = UpstreamConfig::Access::passthrough;
                else
                    fail(child, in_quotes(mode) +
                                    " is not an access mode (use shared or "
                                    "passthrough)");
            } else if (key == "decision_ttl") {
                u.decision_ttl = read_duration(v, child);
                if (u.decision_ttl.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "denial_ttl") {
                u.denial_ttl = read_duration(v, child);
                denial_at = child;
            } else {
                unhandled(child);
            }
        }
        if (!name_at) fail(at.child(at.mark, "name"), "is required (e.g. docker.io)");
        if (!url_at)
            fail(at.child(at.mark, "url"), "is required (e.g. https://registry-1.docker.io)");

        if (password_env_at && password_file_at)
            fail(*password_file_at, "set either password_env or password_file, not both");
        if ((password_env_at || password_file_at) && u.username.empty())
            fail(password_env_at ? *password_env_at : *password_file_at,
                 "a password needs a username (set username too)");
        if (password_env_at && !read_secret_env(u.password_env))
            fail(*password_env_at, "environment variable " + u.password_env + " is not set");
        if (password_file_at && !read_secret_file(u.password_file))
            fail(*password_file_at, "cannot read " + in_quotes(u.password_file));
        if (ca_file_at && !std::ifstream(u.ca_file))
            fail(*ca_file_at, "cannot read " + in_quotes(u.ca_file));
        if (u.denial_ttl > u.decision_ttl) {
            if (denial_at)
                fail(*denial_at, "must not be longer than decision_ttl (" +
                                     std::to_string(u.decision_ttl.count()) + "s)");
            u.denial_ttl = u.decision_ttl;  // a short decision_ttl shortens the default too
        }
        return u;
    }

    // Resolves admin_token_env / admin_token_file into c.admin_token. Messages name the source,
    // never the token.
    void read_admin_token(Config& c, const std::optional<At>& inline_at,
                          const std::optional<At>& env_at, const std::optional<At>& file_at) const {
        const int sources =
            int(inline_at.has_value()) + int(env_at.has_value()) + int(file_at.has_value());
        if (sources > 1) {
            const At& second = file_at ? *file_at : *env_at;
            fail(second, "set only one of admin_token, admin_token_env and admin_token_file");
        }
        if (env_at) {
            const auto token = read_secret_env(c.admin_token_env);
            if (!token) fail(*env_at, "environment variable " + c.admin_token_env + " is not set");
            if (token->empty())
                fail(*env_at, "environment variable " + c.admin_token_env + " is empty");
            c.admin_token = *token;
        }
        if (file_at) {
            const auto token = read_secret_file(c.admin_token_file);
            if (!token) fail(*file_at, "cannot read " + in_quotes(c.admin_token_file));
            if (token->empty()) fail(*file_at, in_quotes(c.admin_token_file) + " is empty");
            c.admin_token = *token;
        }
    }

    void read_access(const YAML::Node& n, const At& at, Config& c) const {
        AccessConfig& a = c.access;
        a.enabled = true;
        if (!expect_mapping(n, at)) return;
        check_keys(n, at.path, k_access_keys);
        std::optional<At> rules_at;
        YAML::Node rules;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "htpasswd_file") {
                a.htpasswd_file = read_string(v, child);  // empty: unset
                if (!a.htpasswd_file.empty() && !std::ifstream(a.htpasswd_file))
                    fail(child, "cannot read " + in_quotes(a.htpasswd_file));
            } else if (key == "tokens_file") {
                a.tokens_file = read_string(v, child);  // empty: unset
                if (!a.tokens_file.empty() && !std::ifstream(a.tokens_file))
                    fail(child, "cannot read " + in_quotes(a.tokens_file));
            } else if (key == "issued_token_ttl") {
                a.issued_token_ttl = read_duration(v, child);
                if (a.issued_token_ttl.count() == 0) fail(child, "must be greater than 0");
            } else if (key == "groups") {
                if (!expect_mapping(v, child)) continue;
                for (const auto& g : v) {
                    const At group = child.child(g.first.Mark(), g.first.Scalar());
                    if (!g.first.IsScalar() || g.first.Scalar().empty())
                        fail(group, "group names must be plain names");
                    a.groups.emplace_back(g.first.Scalar(), read_string_list(g.second, group));
                }
            } else if (key == "rules") {
                rules = v;
                rules_at = child;
            } else {
                unhandled(child);
            }
        }
        if (!rules_at) return;
        if (rules.IsNull()) return;
        if (!rules.IsSequence())
            fail(*rules_at, "expected a list of rules (- who: [...]), found " + describe(rules));
        for (std::size_t i = 0; i < rules.size(); ++i) {
            const At item{rules[i].Mark(), rules_at->path + "[" + std::to_string(i) + "]"};
            a.rules.push_back(read_rule(rules[i], item, c));
        }
    }

    AccessRule read_rule(const YAML::Node& n, const At& at, const Config& c) const {
        if (!n.IsMap()) fail(at, "expected a mapping with who, found " + describe(n));
        check_keys(n, at.path, k_rule_keys, "access.rules[]");
        AccessRule r;
        bool have_who = false;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto& v = kv.second;
            const At child = at.child(kv.first.Mark(), key);
            if (key == "who") {
                r.who = v.IsScalar() ? std::vector<std::string>{v.Scalar()}
                                     : read_string_list(v, child);
                if (r.who.empty())
                    fail(child,
                         "names no one (identities, group:<name>, "
                         "anonymous or authenticated)");
                for (const auto& w : r.who) {
                    if (!w.starts_with("group:")) continue;
                    const auto name = w.substr(6);
                    const bool known = std::any_of(c.access.groups.begin(), c.access.groups.end(),
                                                   [&](const auto& g) { return g.first == name; });
                    if (!known) fail(child, in_quotes(name) + " is not a group in access.groups");
                }
                have_who = true;
            } else if (key == "pull") {
                if (!expect_mapping(v, child)) continue;
                for (const auto& p : v) {
                    const auto upstream = p.first.Scalar();
                    const At pull_at = child.child(p.first.Mark(), upstream);
                    const bool known =
                        upstream == "*" ||
                        std::any_of(c.upstreams.begin(), c.upstreams.end(), [&](const auto& u) {
                            return lower(u.name) == lower(upstream);
                        });
                    if (!known)
                        fail(pull_at, in_quotes(upstream) +
                                          " is not the name of an upstream (or \"*\" for all)");
                    AccessRule::Pull pull{upstream, {}};
                    pull.repos = p.second.IsScalar() ? std::vector<std::string>{p.second.Scalar()}
                                                     : read_string_list(p.second, pull_at);
                    r.pull.push_back(std::move(pull));
                }
            } else if (key == "environments") {
                const auto mode = read_scalar(v, child, "none, read or write");
                if (mode == "none")
                    r.environments = AccessRule::Environments::none;
                else if (mode == "read")
                    r.environments = AccessRule::Environments::read;
                else if (mode == "write")
                    r.environments = AccessRule::Environments::write;
                else
                    fail(child, in_quotes(mode) +
                                    " is not an access level (use none, read or "
                                    "write)");
            } else if (key == "admin") {
                r.admin = read_bool(v, child);
            } else {
                unhandled(child);
            }
        }
        if (!have_who)
            fail(at.child(at.mark, "who"),
                 "is required: the identities, group:<name>, anonymous or authenticated");
        return r;
    }

    std::string m_file;
};

}  // namespace

LoadResult load_from_string(std::string_view text, std::string_view name) {
    const std::string file(name);
    try {
        const std::string yaml(text);
        if (auto problem = not_one_document(yaml, file)) return std::move(*problem);
        return Loader(file).run(YAML::Load(yaml));
    } catch (const Rejected& r) {
        return r.error;
    } catch (const YAML::ParserException& e) {
        return ConfigError{file, e.mark.is_null() ? 0 : e.mark.line + 1, "",
                           "not valid YAML: " + e.msg};
    } catch (const YAML::Exception& e) {
        return ConfigError{file, e.mark.is_null() ? 0 : e.mark.line + 1, "",
                           "cannot be read as YAML: " + e.msg};
    }
}

LoadResult load(const std::filesystem::path& file) {
    const auto name = file.string();
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        return ConfigError{name, 0, "", "is a directory, not a config file"};
    std::ifstream in(file, std::ios::binary);
    if (!in) return ConfigError{name, 0, "", "cannot open the file"};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return ConfigError{name, 0, "", "cannot read the file"};
    auto result = load_from_string(text.str(), name);
    if (result) result->source = file;
    return result;
}

}  // namespace config
