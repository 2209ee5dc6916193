// envcache-hitrate: replays a request trace (CSV `timestamp,key,size`) through every eviction
// policy at several cache sizes and reports object and byte miss ratios next to Belady's MIN.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "eviction/belady.hpp"
#include "eviction/policy.hpp"
#include "eviction/simulator.hpp"
#include "eviction/trace_reader.hpp"

namespace {

constexpr double k_fractions[] = {0.01, 0.02, 0.05, 0.10, 0.20, 0.50};

struct Result {
    std::string policy;
    double fraction = 0;
    double object_miss = 0;
    double byte_miss = 0;
};

struct Options {
    std::string trace;
    std::string csv;
    std::string svg;
    std::vector<std::string> policies;
};

void usage() {
    std::fputs(
        "usage: envcache-hitrate TRACE.csv [--csv OUT.csv] [--svg OUT.svg] [--policies a,b]\n"
        "Replays TRACE through lru, lfu, s3fifo, sieve and wtinylfu (or --policies) at cache\n"
        "sizes of 1, 2, 5, 10, 20 and 50% of the trace's unique bytes, next to Belady's MIN.\n",
        stderr);
}

std::string percent(double fraction) {
    char text[16];
    std::snprintf(text, sizeof text, "%g%%", fraction * 100);
    return text;
}

// --- SVG ---------------------------------------------------------------------------------

const char* color_of(std::string_view policy) {
    if (policy == "lru") return "#1f77b4";
    if (policy == "lfu") return "#ff7f0e";
    if (policy == "s3fifo") return "#2ca02c";
    if (policy == "sieve") return "#d62728";
    if (policy == "wtinylfu") return "#9467bd";
    return "#000000";
}

// One panel: miss ratio (y, linear from 0) against cache size (x, log scale).
void svg_panel(std::ostringstream& svg, double left, double top, double width, double height,
               const std::string& title, const std::vector<std::string>& policies,
               const std::vector<Result>& results, bool bytes) {
    double y_max = 0;
    for (const auto& r : results)
        y_max = std::max(y_max, bytes ? r.byte_miss : r.object_miss);
    // Round ticks: a step of 0.02, 0.05, 0.1 or 0.2 giving at most 8 intervals.
    double step = 0.2;
    for (double candidate : {0.02, 0.05, 0.1}) {
        if (y_max / candidate <= 8) {
            step = candidate;
            break;
        }
    }
    const int ticks = std::max(1, static_cast<int>(std::ceil(y_max / step - 1e-9)));
    y_max = ticks * step;
    const double x_lo = std::log10(k_fractions[0]);
    const double x_hi = std::log10(k_fractions[std::size(k_fractions) - 1]);
    auto x_of = [&](double fraction) {
        return left + (std::log10(fraction) - x_lo) / (x_hi - x_lo) * width;
    };
    auto y_of = [&](double ratio) { return top + height - ratio / y_max * height; };

    svg << "<text x='" << left + width / 2 << "' y='" << top - 12
        << "' text-anchor='middle' font-size='15' font-weight='bold'>" << title << "</text>\n";
    svg << "<rect x='" << left << "' y='" << top << "' width='" << width << "' height='" << height
        << "' fill='none' stroke='#333'/>\n";
    for (int i = 0; i <= ticks; ++i) {
        double ratio = step * i;
        double y = y_of(ratio);
        svg << "<line x1='" << left << "' y1='" << y << "' x2='" << left + width << "' y2='" << y
            << "' stroke='#ddd'/>\n";
        svg << "<text x='" << left - 6 << "' y='" << y + 4 << "' text-anchor='end' font-size='12'>"
            << std::round(ratio * 1000) / 1000 << "</text>\n";
    }
    for (double fraction : k_fractions) {
        double x = x_of(fraction);
        svg << "<line x1='" << x << "' y1='" << top << "' x2='" << x << "' y2='" << top + height
            << "' stroke='#eee'/>\n";
        svg << "<text x='" << x << "' y='" << top + height + 16
            << "' text-anchor='middle' font-size='12'>" << percent(fraction) << "</text>\n";
    }
    svg << "<text x='" << left + width / 2 << "' y='" << top + height + 36
        << "' text-anchor='middle' font-size='13'>cache size (% of the trace's unique bytes, log "
           "scale)</text>\n";
    svg << "<text transform='translate(" << left - 46 << "," << top + height / 2
        << ") rotate(-90)' text-anchor='middle' font-size='13'>"
        << (bytes ? "byte miss ratio" : "object miss ratio") << "</text>\n";

    for (const auto& policy : policies) {
        std::ostringstream points;
        for (const auto& r : results) {
            if (r.policy != policy) continue;
            points << x_of(r.fraction) << ',' << y_of(bytes ? r.byte_miss : r.object_miss) << ' ';
        }
        bool reference = policy == "belady";
        svg << "<polyline fill='none' stroke='" << color_of(policy) << "' stroke-width='2'"
            << (reference ? " stroke-dasharray='6,4'" : "") << " points='" << points.str()
            << "'/>\n";
        for (const auto& r : results) {
            if (r.policy != policy) continue;
            svg << "<circle cx='" << x_of(r.fraction) << "' cy='"
                << y_of(bytes ? r.byte_miss : r.object_miss) << "' r='3' fill='" << color_of(policy)
                << "'/>\n";
        }
    }
}

std::string render_svg(const std::string& trace_name, const std::vector<std::string>& policies,
                       const std::vector<Result>& results) {
    std::ostringstream svg;
    const double panel_w = 420, panel_h = 300, top = 70;
    svg << "<svg xmlns='http://www.w3.org/2000/svg' width='1260' height='460' "
           "font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
    svg << "<text x='630' y='26' text-anchor='middle' font-size='17'>Miss ratio by cache size "
           "and eviction policy — "
        << trace_name << "</text>\n";
    svg_panel(svg, 80, top, panel_w, panel_h, "Byte miss ratio (lower is better)", policies,
              results, true);
    svg_panel(svg, 600, top, panel_w, panel_h, "Object miss ratio (lower is better)", policies,
              results, false);
    double y = top + 10;
    for (const auto& policy : policies) {
        bool reference = policy == "belady";
        svg << "<line x1='1050' y1='" << y << "' x2='1080' y2='" << y << "' stroke='"
            << color_of(policy) << "' stroke-width='2'"
            << (reference ? " stroke-dasharray='6,4'" : "") << "/>\n";
        svg << "<text x='1087' y='" << y + 4 << "' font-size='13'>"
            << (reference ? "belady (MIN, offline)" : policy) << "</text>\n";
        y += 22;
    }
    svg << "</svg>\n";
    return svg.str();
}

std::string base_name(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string xml_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '<') {
            out += "&lt;";
        } else if (c == '>') {
            out += "&gt;";
        } else if (c == '&') {
            out += "&amp;";
        } else if (c == '\'') {
            out += "&apos;";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        }
        if (arg == "--csv" || arg == "--svg" || arg == "--policies") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "hitrate: %s needs a value\n", argv[i]);
                return 2;
            }
            std::string value = argv[++i];
            if (arg == "--csv") {
                options.csv = value;
            } else if (arg == "--svg") {
                options.svg = value;
            } else {
                std::stringstream list(value);
                std::string name;
                while (std::getline(list, name, ',')) {
                    if (!eviction::make_policy(name, 1)) {
                        std::fprintf(stderr, "hitrate: unknown policy '%s'\n", name.c_str());
                        return 2;
                    }
                    options.policies.push_back(name);
                }
            }
        } else if (options.trace.empty() && !arg.starts_with("--")) {
            options.trace = arg;
        } else {
            std::fprintf(stderr, "hitrate: unexpected argument %s\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (options.trace.empty()) {
        usage();
        return 2;
    }
    if (options.policies.empty()) {
        for (auto name : eviction::k_policy_names)
            options.policies.emplace_back(name);
    }

    auto start = std::chrono::steady_clock::now();
    std::ifstream in(options.trace, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "hitrate: cannot read %s\n", options.trace.c_str());
        return 1;
    }
    eviction::TraceReader reader;
    std::string line;
    while (std::getline(in, line)) {
        if (auto error = reader.add_line(line)) {
            std::fprintf(stderr, "hitrate: %s: %s\n", options.trace.c_str(),
                         error->to_string().c_str());
            return 1;
        }
    }
    if (in.bad()) {
        std::fprintf(stderr, "hitrate: reading %s failed\n", options.trace.c_str());
        return 1;
    }
    if (auto error = reader.finish()) {
        std::fprintf(stderr, "hitrate: %s: %s\n", options.trace.c_str(),
                     error->to_string().c_str());
        return 1;
    }
    const auto& requests = reader.requests();
    const double load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("trace %s: %zu requests, %zu unique objects, %.3f GiB unique (read in %.1f s)\n",
                options.trace.c_str(), requests.size(), reader.unique_keys(),
                reader.unique_bytes() / (1024.0 * 1024 * 1024), load_seconds);
    if (requests.empty()) {
        std::fprintf(stderr, "hitrate: the trace has no requests\n");
        return 1;
    }

    std::vector<Result> results;
    std::vector<double> seconds(options.policies.size(), 0.0);
    for (double fraction : k_fractions) {
        const std::uint64_t capacity = std::max<std::uint64_t>(
            1, static_cast<std::uint64_t>(static_cast<double>(reader.unique_bytes()) * fraction));
        for (std::size_t p = 0; p < options.policies.size(); ++p) {
            auto policy = eviction::make_policy(options.policies[p], capacity);
            eviction::Simulator simulator(*policy);
            auto t0 = std::chrono::steady_clock::now();
            for (const auto& r : requests)
                simulator.request(r.key, r.bytes);
            seconds[p] +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            results.push_back({options.policies[p], fraction, simulator.stats().object_miss_ratio(),
                               simulator.stats().byte_miss_ratio()});
        }
        auto belady = eviction::simulate_belady(requests, capacity);
        results.push_back(
            {"belady", fraction, belady.object_miss_ratio(), belady.byte_miss_ratio()});
    }

    std::vector<std::string> names = options.policies;
    names.emplace_back("belady");
    auto find = [&](const std::string& policy, double fraction) -> const Result& {
        for (const auto& r : results) {
            if (r.policy == policy && r.fraction == fraction) return r;
        }
        return results.front();
    };
    for (bool bytes : {true, false}) {
        std::printf("\n%s miss ratio by cache size (%% of unique bytes)\n",
                    bytes ? "byte" : "object");
        std::printf("%-10s", "policy");
        for (double fraction : k_fractions)
            std::printf("%9s", percent(fraction).c_str());
        std::printf("\n");
        for (const auto& name : names) {
            std::printf("%-10s", name.c_str());
            for (double fraction : k_fractions) {
                const auto& r = find(name, fraction);
                std::printf("%9.4f", bytes ? r.byte_miss : r.object_miss);
            }
            std::printf("\n");
        }
    }

    std::printf("\nreplay speed (all sizes, one core)\n");
    for (std::size_t p = 0; p < options.policies.size(); ++p) {
        double total = static_cast<double>(requests.size()) * std::size(k_fractions);
        std::printf("%-10s %6.2f M requests/s\n", options.policies[p].c_str(),
                    total / seconds[p] / 1e6);
    }

    // The best online policy at 10% against LRU, by byte miss ratio.
    const auto& lru = find("lru", 0.10);
    const Result* best = nullptr;
    for (const auto& name : options.policies) {
        const auto& r = find(name, 0.10);
        if (best == nullptr || r.byte_miss < best->byte_miss) best = &r;
    }
    if (best != nullptr && lru.policy == "lru" && lru.byte_miss > 0) {
        std::printf(
            "\nat 10%%: best online policy %s, byte miss ratio %.4f vs lru %.4f (%.1f%% "
            "lower); belady %.4f\n",
            best->policy.c_str(), best->byte_miss, lru.byte_miss,
            100.0 * (1.0 - best->byte_miss / lru.byte_miss), find("belady", 0.10).byte_miss);
    }

    if (!options.csv.empty()) {
        std::ofstream csv(options.csv, std::ios::binary | std::ios::trunc);
        csv << "policy,cache_fraction,object_miss_ratio,byte_miss_ratio\n";
        char row[128];
        for (const auto& r : results) {
            std::snprintf(row, sizeof row, "%s,%g,%.6f,%.6f\n", r.policy.c_str(), r.fraction,
                          r.object_miss, r.byte_miss);
            csv << row;
        }
        if (!csv.flush()) {
            std::fprintf(stderr, "hitrate: writing %s failed\n", options.csv.c_str());
            return 1;
        }
    }
    if (!options.svg.empty()) {
        std::ofstream svg(options.svg, std::ios::binary | std::ios::trunc);
        svg << render_svg(xml_escape(base_name(options.trace)), names, results);
        if (!svg.flush()) {
            std::fprintf(stderr, "hitrate: writing %s failed\n", options.svg.c_str());
            return 1;
        }
    }
    return 0;
}
