// Drift lint: everything in a spec that lets the hash or the built image change over time.

#include <set>

#include "environment/environment_hash.hpp"
#include "environment/text.hpp"

namespace environment {

namespace {

void pin_finding(std::vector<Finding>& out, PinKind pin, std::string_view kind, std::string subject,
                 const std::string& written, std::string file, int line) {
    Finding f;
    f.file = std::move(file);
    f.line = line;
    f.subject = std::move(subject);
    switch (pin) {
        case PinKind::exact:
            return;
        case PinKind::unpinned:
            f.rule = "unpinned";
            f.message = std::string(kind) + " package '" + written +
                        "' has no version: a rebuild installs whatever is newest then, so the "
                        "image changes while the hash stays the same; pin it with ==";
            break;
        case PinKind::range:
            f.rule = "range";
            f.message = std::string(kind) + " package '" + written +
                        "' allows a range of versions: a rebuild can pick a newer release in "
                        "the range without the hash changing; pin one version";
            break;
        case PinKind::partial:
            f.rule = "partial";
            f.message = std::string(kind) + " package '" + written +
                        "' is pinned only partially (wildcard or short version): new releases "
                        "that match are picked up by a rebuild without the hash changing";
            break;
        case PinKind::direct:
            f.rule = "direct-reference";
            f.severity = Severity::info;
            f.message = std::string(kind) + " package '" + written +
                        "' comes from a URL: what it points to can change without the hash "
                        "changing unless the URL names a commit or carries a hash";
            break;
    }
    out.push_back(std::move(f));
}

}  // namespace

std::vector<Finding> lint(const Spec& spec, const BaseImage& base, bool offline) {
    std::vector<Finding> out;
    const auto& where = spec.base_where;
    if (spec.base.digest.empty()) {
        Finding f{"floating-base", Severity::warning, where.file, where.line, base.reference, ""};
        f.message = "base image " + base.reference +
                    " is a tag, not a digest: when the tag moves to a new image the hash "
                    "changes and a rebuild uses the new image; write it as " +
                    base.name + "@sha256:...";
        out.push_back(std::move(f));
        if (offline) {
            Finding u{"unresolved-base", Severity::warning, where.file,
                      where.line,        base.reference,    ""};
            u.message = "offline: the hash covers the reference " + base.reference +
                        " as written, not the image it points to, so it is not stable and will "
                        "not match the hash a server computes; resolve it with --server";
            out.push_back(std::move(u));
        }
    }

    if (spec.has_conda_file && spec.python() == nullptr) {
        out.push_back({"no-python-pin", Severity::warning, spec.conda_file_name,
                       spec.conda_dependencies_line, "python",
                       "the conda file has no python dependency: conda picks the newest Python "
                       "when the image is built, so rebuilds can get another interpreter; add "
                       "e.g. python=3.11.9"});
    }
    for (const auto& c : spec.conda) {
        pin_finding(out, c.dependency.pin(), "conda", c.dependency.name, c.dependency.canonical(),
                    c.where.file, c.where.line);
    }

    // A constraint file that pins a package exactly pins the requirement too.
    std::set<std::string> constrained;
    for (const auto& c : spec.pip.constraints)
        if (c.requirement.pin() == PinKind::exact) constrained.insert(c.requirement.name);
    for (const auto& r : spec.pip.requirements) {
        const auto pin = constrained.contains(r.requirement.name) && r.requirement.url.empty()
                             ? PinKind::exact
                             : r.requirement.pin();
        pin_finding(out, pin, "pip", r.requirement.name, r.requirement.canonical(), r.file, r.line);
    }
    for (const auto& e : spec.pip.editables) {
        out.push_back({"editable", Severity::info, e.file, e.line, e.target,
                       "editable install '" + e.target +
                           "': its files are not part of the hash, so changes to them do not "
                           "change it"});
    }
    for (const auto& step : spec.steps) {
        if (step.keyword != "COPY" && step.keyword != "ADD") continue;
        if (step.arguments.find("--from=") != std::string::npos) continue;
        out.push_back(
            {"build-context", Severity::info, spec.dockerfile_name, step.line, step.keyword,
             step.keyword + " takes files from the build context: their contents are not part "
                            "of the hash, so changing them does not change it"});
    }
    return out;
}

}  // namespace environment
