#include "environment/image_reference.hpp"

#include <cctype>

#include "environment/text.hpp"

namespace environment {

bool is_sha256_digest(std::string_view text) {
    if (text.size() != 71 || !text.starts_with("sha256:")) return false;
    for (char c : text.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string ImageReference::name() const {
    return registry + "/" + repository;
}

std::string ImageReference::str() const {
    std::string out = name();
    if (!tag.empty())
        out += ":" + tag;
    else if (digest.empty())
        out += ":latest";
    if (!digest.empty()) out += "@" + digest;
    return out;
}

boost::system::result<ImageReference, std::string> parse_image_reference(std::string_view text) {
    const std::string_view s = text::trim(text);
    if (s.empty()) return std::string("empty image reference");
    for (char c : s) {
        if (text::is_space(c) || c == '$')
            return "image reference '" + std::string(s) + "' has spaces or variables";
    }
    ImageReference ref;
    std::string_view rest = s;
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        ref.digest = std::string(rest.substr(at + 1));
        if (!is_sha256_digest(ref.digest))
            return "image digest '" + ref.digest + "' is not sha256:<64 lowercase hex>";
        rest = rest.substr(0, at);
    }
    // A tag is after the last ':' that comes after the last '/'.
    const auto slash = rest.rfind('/');
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        ref.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (ref.tag.empty()) return "empty tag in '" + std::string(s) + "'";
    }
    const auto first_slash = rest.find('/');
    const auto first = rest.substr(0, first_slash);
    if (first_slash != std::string_view::npos &&
        (first.find_first_of(".:") != std::string_view::npos || first == "localhost")) {
        ref.registry = std::string(first);
        ref.repository = std::string(rest.substr(first_slash + 1));
    } else {
        ref.registry = "docker.io";
        ref.repository = std::string(rest);
    }
    if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io")
        ref.registry = "docker.io";
    if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos)
        ref.repository = "library/" + ref.repository;
    if (ref.repository.empty()) return "missing repository in '" + std::string(s) + "'";
    for (char c : ref.repository) {
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
              c == '-'))
            return "repository '" + ref.repository + "' must be lower-case letters, digits, ._-/";
    }
    return ref;
}

}  // namespace environment
