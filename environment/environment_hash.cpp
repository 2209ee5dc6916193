#include "environment/environment_hash.hpp"

#include <array>
#include <set>

#include <openssl/evp.h>

#include "environment/text.hpp"

namespace environment {

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int size = 0;
    // One-shot digest: EVP_Digest owns its context, nothing to free on our side.
    if (EVP_Digest(data.data(), data.size(), md.data(), &size, EVP_sha256(), nullptr) != 1)
        return {};
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
        out += k_hex[md[i] >> 4];
        out += k_hex[md[i] & 0xf];
    }
    return out;
}

ResolveImage resolved_to(std::string digest) {
    return [digest = std::move(digest)](std::string_view) {
        return boost::system::result<std::string>(digest);
    };
}

std::string canonical_form(const Spec& spec, const BaseImage& base) {
    std::string out;
    auto line = [&out](std::string_view key, std::string_view value) {
        out += key;
        out += ' ';
        out += value;
        out += '\n';
    };
    auto sorted_lines = [&line](std::string_view key, std::set<std::string> values) {
        for (const auto& v : values)
            line(key, v);
    };
    out += k_canonical_header;
    out += '\n';
    line("base", base.resolved() ? base.digest : base.reference);
    if (!spec.platform.empty()) line("platform", text::lower(spec.platform));
    for (const auto& step : spec.steps)
        line("step", step.text());
    for (const auto& channel : spec.channels)
        line("channel", channel);

    std::set<std::string> conda;
    for (const auto& c : spec.conda)
        conda.insert(c.dependency.canonical());
    sorted_lines("conda", std::move(conda));

    for (const auto& o : spec.pip.index_options)
        line("pip-index", o);
    for (const auto& o : spec.pip.other_options)
        line("pip-option", o);
    std::set<std::string> pip, constraints, editables;
    for (const auto& r : spec.pip.requirements)
        pip.insert(r.requirement.canonical());
    for (const auto& r : spec.pip.constraints)
        constraints.insert(r.requirement.canonical());
    for (const auto& e : spec.pip.editables)
        editables.insert(e.target);
    sorted_lines("pip", std::move(pip));
    sorted_lines("pip-constraint", std::move(constraints));
    sorted_lines("pip-editable", std::move(editables));

    const CondaEntry* python = spec.python();
    line("python", python == nullptr                    ? "none"
                   : python->dependency.version.empty() ? "any"
                                                        : python->dependency.version);
    return out;
}

namespace {

boost::system::result<BaseImage, Error> resolve_base(const Spec& spec,
                                                     const ResolveImage& resolve) {
    BaseImage base;
    base.reference = spec.base.str();
    base.name = spec.base.name();
    base.digest = spec.base.digest;
    if (base.resolved() || !resolve) return base;

    auto fail = [&](std::string message) {
        return Error{spec.base_where.file, spec.base_where.line, 0,
                     "cannot resolve base image " + base.reference + ": " + message};
    };
    auto answer = resolve(base.reference);
    if (!answer) return fail(answer.error().message());
    std::string_view digest = *answer;
    if (const auto at = digest.rfind('@'); at != std::string_view::npos)
        digest = digest.substr(at + 1);
    if (!is_sha256_digest(digest)) return fail("resolver answered '" + *answer + "'");
    base.digest = std::string(digest);
    return base;
}

}  // namespace

boost::system::result<HashedEnvironment, Error> hash_environment(const Spec& spec,
                                                                 const ResolveImage& resolve) {
    auto base = resolve_base(spec, resolve);
    if (!base) return base.error();
    HashedEnvironment out;
    out.base = std::move(*base);
    out.offline = !resolve;
    out.canonical = canonical_form(spec, out.base);
    out.hash = sha256_hex(out.canonical);
    out.findings = lint(spec, out.base, out.offline);
    return out;
}

boost::system::result<HashedEnvironment, Error> hash_bundle(const Bundle& bundle,
                                                            const ResolveImage& resolve) {
    auto spec = parse_spec(bundle);
    if (!spec) return spec.error();
    return hash_environment(*spec, resolve);
}

}  // namespace environment
