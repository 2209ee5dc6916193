// envcache-tracegen: writes a synthetic registry pull trace (CSV `timestamp,key,size`) after
// the Docker registry workload study of Anwar et al. (FAST'18, IBM registry traces). The model
// and its parameters are described in bench/README.md.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
    std::uint64_t requests = 3'000'000;
    std::uint64_t seed = 1;
    std::string out;
    std::uint64_t images = 2'000;    // images present at the start
    std::uint64_t bases = 60;        // base images whose layers are shared
    double zipf = 1.0;               // popularity skew of images
    double base_zipf = 1.2;          // popularity of bases among images built on them
    double new_image_rate = 0.02;    // new image per pull
    double new_version_share = 0.6;  // share of new images that are a new tag of one
    double layer_fetch = 0.6;        // chance a pulling client lacks a given layer
    double pull_rate = 20.0;         // pulls per second
    double own_layers_mean = 5.0;    // mean number of an image's own layers
};

// Uniform doubles and the distributions the model needs, from mt19937_64's standard output
// only, so a seed gives the same trace with any standard library.
class Random {
  public:
    explicit Random(std::uint64_t seed) : m_engine(seed) {}

    double uniform() { return static_cast<double>(m_engine() >> 11) * 0x1.0p-53; }
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : m_engine() % n; }
    bool chance(double p) { return uniform() < p; }
    double normal() {
        double u1 = uniform();
        double u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }
    // 1 + geometric with the given mean (>= 1).
    std::uint64_t geometric(double mean) {
        double p = 1.0 / mean;
        std::uint64_t n = 1;
        while (!chance(p) && n < 1000)
            ++n;
        return n;
    }
    double exponential(double rate) { return -std::log(1.0 - uniform()) / rate; }

  private:
    std::mt19937_64 m_engine;
};

// Zipf ranks 0..n-1 (rank 0 most popular) for a growing n: prefix sums of 1/(r+1)^s.
class Zipf {
  public:
    explicit Zipf(double s) : m_s(s) {}

    std::uint64_t sample(Random& random, std::uint64_t n) {
        extend(n);
        double u = random.uniform() * m_prefix[n - 1];
        auto it = std::upper_bound(m_prefix.begin(), m_prefix.begin() + n, u);
        return std::min<std::uint64_t>(it - m_prefix.begin(), n - 1);
    }

  private:
    void extend(std::uint64_t n) {
        while (m_prefix.size() < n) {
            double term = 1.0 / std::pow(static_cast<double>(m_prefix.size() + 1), m_s);
            m_prefix.push_back((m_prefix.empty() ? 0.0 : m_prefix.back()) + term);
        }
    }

    double m_s;
    std::vector<double> m_prefix;
};

constexpr double k_kib = 1024.0;
constexpr double k_mib = 1024.0 * 1024.0;
constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

// Layer sizes: 65% below 1 MiB (log-normal, median 64 KiB), 15% between 1 and 10 MiB
// (log-uniform), 20% from 10 MiB to 4 GiB (bounded Pareto, alpha 1.1: median ~19 MiB).
std::uint64_t layer_size(Random& random) {
    double u = random.uniform();
    if (u < 0.65) {
        for (;;) {
            double size = std::exp(std::log(64 * k_kib) + 1.6 * random.normal());
            if (size >= 256 && size < k_mib) return static_cast<std::uint64_t>(size);
        }
    }
    if (u < 0.80) {
        return static_cast<std::uint64_t>(k_mib * std::exp(random.uniform() * std::log(10.0)));
    }
    const double alpha = 1.1, low = 10 * k_mib, high = 4 * k_gib;
    const double ratio = std::pow(low / high, alpha);
    double v = random.uniform();
    return static_cast<std::uint64_t>(low / std::pow(1.0 - v * (1.0 - ratio), 1.0 / alpha));
}

struct Layer {
    std::uint64_t id;
    std::uint64_t size;
};

struct Image {
    std::uint64_t id;
    std::uint64_t manifest_size;
    std::uint64_t config_size;
    std::vector<std::uint64_t> layers;  // layer ids, base first
    std::size_t base_layers;
};

class Generator {
  public:
    explicit Generator(const Options& options)
        : m_options(options),
          m_random(options.seed),
          m_zipf(options.zipf),
          m_base_zipf(options.base_zipf) {}

    int run(std::FILE* out);

  private:
    std::uint64_t new_layer() {
        m_layer_sizes.push_back(layer_size(m_random));
        return m_layer_sizes.size() - 1;
    }

    std::uint64_t finish_image(Image image) {
        image.id = m_images.size();
        image.manifest_size = 500 + 120 * image.layers.size() + m_random.below(400);
        image.config_size = 1500 + m_random.below(14'000);
        m_images.push_back(std::move(image));
        return m_images.size() - 1;
    }

    std::uint64_t new_image_on_a_base() {
        Image image;
        const auto& base = m_bases[m_base_zipf.sample(m_random, m_bases.size())];
        image.layers = base;
        image.base_layers = base.size();
        std::uint64_t own =
            std::min<std::uint64_t>(m_random.geometric(m_options.own_layers_mean), 40);
        for (std::uint64_t i = 0; i < own; ++i)
            image.layers.push_back(new_layer());
        return finish_image(std::move(image));
    }

    // A new tag of an existing image: same base and lower layers, new top layers.
    std::uint64_t new_version_of(std::uint64_t parent) {
        Image image;
        image.layers = m_images[parent].layers;
        image.base_layers = m_images[parent].base_layers;
        std::size_t own = image.layers.size() - image.base_layers;
        std::size_t replaced = std::min<std::size_t>(m_random.geometric(1.5), own);
        image.layers.resize(image.layers.size() - replaced);
        for (std::size_t i = 0; i < std::max<std::size_t>(replaced, 1); ++i) {
            image.layers.push_back(new_layer());
        }
        return finish_image(std::move(image));
    }

    void write_row(std::FILE* out, double time, char kind, std::uint64_t id, std::uint64_t size);

    const Options& m_options;
    Random m_random;
    Zipf m_zipf;
    Zipf m_base_zipf;
    std::vector<std::vector<std::uint64_t>> m_bases;  // layer ids of each base image
    std::vector<std::uint64_t> m_layer_sizes;
    std::vector<Image> m_images;
    std::vector<std::uint64_t> m_ranked;  // image ids, most popular first
    std::string m_buffer;
};

void Generator::write_row(std::FILE* out, double time, char kind, std::uint64_t id,
                          std::uint64_t size) {
    char line[96];
    int n =
        std::snprintf(line, sizeof line, "%.3f,%c%llu,%llu\n", time, kind,
                      static_cast<unsigned long long>(id), static_cast<unsigned long long>(size));
    m_buffer.append(line, static_cast<std::size_t>(n));
    if (m_buffer.size() > (1 << 20)) {
        std::fwrite(m_buffer.data(), 1, m_buffer.size(), out);
        m_buffer.clear();
    }
}

int Generator::run(std::FILE* out) {
    for (std::uint64_t b = 0; b < m_options.bases; ++b) {
        std::vector<std::uint64_t> layers;
        std::uint64_t count = 1 + m_random.below(4);
        for (std::uint64_t i = 0; i < count; ++i)
            layers.push_back(new_layer());
        m_bases.push_back(std::move(layers));
    }
    for (std::uint64_t i = 0; i < m_options.images; ++i) {
        // A third of the initial images are other tags of earlier ones.
        std::uint64_t id = (i > 0 && m_random.chance(0.33))
                               ? new_version_of(m_random.below(m_images.size()))
                               : new_image_on_a_base();
        m_ranked.push_back(id);
    }
    // Initial popularity order is random, not creation order.
    for (std::size_t i = m_ranked.size(); i > 1; --i) {
        std::swap(m_ranked[i - 1], m_ranked[m_random.below(i)]);
    }

    m_buffer = "timestamp,key,size\n";
    double now = 0;
    std::uint64_t written = 0, pulls = 0, manifests = 0, new_images = 0;
    while (written < m_options.requests) {
        now += m_random.exponential(m_options.pull_rate);
        if (m_random.chance(m_options.new_image_rate)) {
            ++new_images;
            std::uint64_t rank = m_zipf.sample(m_random, m_ranked.size());
            if (m_random.chance(m_options.new_version_share)) {
                // The new tag takes its parent's place; the parent drifts down.
                std::uint64_t parent = m_ranked[rank];
                std::uint64_t id = new_version_of(parent);
                m_ranked[rank] = id;
                std::uint64_t down = std::min<std::uint64_t>(4 * rank + 10, m_ranked.size());
                m_ranked.insert(m_ranked.begin() + static_cast<std::ptrdiff_t>(down), parent);
            } else {
                m_ranked.insert(m_ranked.begin() + static_cast<std::ptrdiff_t>(rank),
                                new_image_on_a_base());
            }
        }
        const Image& image = m_images[m_ranked[m_zipf.sample(m_random, m_ranked.size())]];
        ++pulls;
        double t = now;
        // The manifest comes first; a client that already has the image stops there.
        write_row(out, t, 'm', image.id, image.manifest_size);
        ++manifests;
        if (++written >= m_options.requests) break;
        bool needs_blobs = m_random.chance(m_options.layer_fetch);
        if (!needs_blobs) continue;
        t += 0.01;
        write_row(out, t, 'c', image.id, image.config_size);
        if (++written >= m_options.requests) break;
        for (std::uint64_t layer : image.layers) {
            if (!m_random.chance(m_options.layer_fetch)) continue;
            t += 0.01;
            write_row(out, t, 'l', layer, m_layer_sizes[layer]);
            if (++written >= m_options.requests) break;
        }
    }
    std::fwrite(m_buffer.data(), 1, m_buffer.size(), out);

    std::uint64_t under_1m = 0, under_10m = 0;
    for (std::uint64_t size : m_layer_sizes) {
        under_1m += size < k_mib;
        under_10m += size < 10 * k_mib;
    }
    std::fprintf(stderr,
                 "tracegen: %llu requests (%llu manifests, %.1f%%) in %llu pulls over %.0f s; "
                 "%zu images (%llu new during the trace), %zu layers: %.1f%% < 1 MiB, %.1f%% < "
                 "10 MiB\n",
                 static_cast<unsigned long long>(written),
                 static_cast<unsigned long long>(manifests), 100.0 * manifests / written,
                 static_cast<unsigned long long>(pulls), now, m_images.size(),
                 static_cast<unsigned long long>(new_images), m_layer_sizes.size(),
                 100.0 * under_1m / m_layer_sizes.size(), 100.0 * under_10m / m_layer_sizes.size());
    return 0;
}

void usage() {
    std::fputs(
        "usage: envcache-tracegen --out FILE [--requests N] [--seed S] [--images N]\n"
        "         [--bases N] [--zipf S] [--base-zipf S] [--new-image-rate P]\n"
        "         [--new-version-share P] [--layer-fetch P] [--pull-rate R]\n"
        "         [--own-layers-mean M]\n"
        "Writes a synthetic registry pull trace (CSV timestamp,key,size); FILE '-' is stdout.\n",
        stderr);
}

bool parse_number(std::string_view text, double& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_number(std::string_view text, std::uint64_t& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
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
        if (i + 1 >= argc) {
            std::fprintf(stderr, "tracegen: %s needs a value\n", argv[i]);
            usage();
            return 2;
        }
        std::string_view value = argv[++i];
        bool ok = true;
        if (arg == "--out") {
            options.out = value;
        } else if (arg == "--requests") {
            ok = parse_number(value, options.requests);
        } else if (arg == "--seed") {
            ok = parse_number(value, options.seed);
        } else if (arg == "--images") {
            ok = parse_number(value, options.images) && options.images > 0;
        } else if (arg == "--bases") {
            ok = parse_number(value, options.bases) && options.bases > 0;
        } else if (arg == "--zipf") {
            ok = parse_number(value, options.zipf) && options.zipf >= 0;
        } else if (arg == "--base-zipf") {
            ok = parse_number(value, options.base_zipf) && options.base_zipf >= 0;
        } else if (arg == "--new-image-rate") {
            ok = parse_number(value, options.new_image_rate) && options.new_image_rate >= 0 &&
                 options.new_image_rate <= 1;
        } else if (arg == "--new-version-share") {
            ok = parse_number(value, options.new_version_share) && options.new_version_share >= 0 &&
                 options.new_version_share <= 1;
        } else if (arg == "--layer-fetch") {
            ok = parse_number(value, options.layer_fetch) && options.layer_fetch > 0 &&
                 options.layer_fetch <= 1;
        } else if (arg == "--pull-rate") {
            ok = parse_number(value, options.pull_rate) && options.pull_rate > 0;
        } else if (arg == "--own-layers-mean") {
            ok = parse_number(value, options.own_layers_mean) && options.own_layers_mean >= 1;
        } else {
            std::fprintf(stderr, "tracegen: unknown option %s\n", argv[i - 1]);
            usage();
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "tracegen: invalid value '%s' for %s\n", argv[i], argv[i - 1]);
            return 2;
        }
    }
    if (options.out.empty()) {
        usage();
        return 2;
    }
    std::FILE* out = options.out == "-" ? stdout : std::fopen(options.out.c_str(), "wb");
    if (out == nullptr) {
        std::fprintf(stderr, "tracegen: cannot write %s: %s\n", options.out.c_str(),
                     std::strerror(errno));
        return 1;
    }
    Generator generator(options);
    int rc = generator.run(out);
    if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
        std::fprintf(stderr, "tracegen: writing %s failed: %s\n", options.out.c_str(),
                     std::strerror(errno));
        return 1;
    }
    return rc;
}
