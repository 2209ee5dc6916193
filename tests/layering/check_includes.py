"""Fails when an #include points against the module picture of the architecture page.

Each module may include itself and the modules listed for it; anything else is an arrow that
points up or sideways. Run by ctest (`layering`); prints every offending include.
"""

import os
import re
import sys

# module -> modules it may include (besides itself). Inside proxy/, the top-level files
# (log, metrics) are "proxy"; each folder is its own module.
ALLOWED = {
    "config": set(),
    "eviction": set(),
    "environment": {"config"},
    "store": set(),
    "cache": {"store", "eviction", "config"},
    "proxy": {"config"},
    "proxy/server": {"proxy", "config"},
    "proxy/upstream": {"proxy", "config"},
    "proxy/fetch": {"proxy", "proxy/upstream", "cache", "store", "config"},
    # Who may do what: pure decisions over config, hashed with store's SHA-256.
    "proxy/access": {"config", "store"},
    "proxy/registry": {"proxy", "proxy/server", "proxy/fetch", "proxy/upstream", "proxy/access",
                       "cache", "store", "config"},
    # The pull-by-environment path and the base-image resolver use the registry's OCI
    # vocabulary (media types, upstream selection), never its handler.
    "proxy/environments": {"proxy", "proxy/server", "proxy/upstream", "cache", "store",
                           "config", "environment", "proxy/registry:media_types.hpp",
                           "proxy/registry:route.hpp", "proxy/registry:oci_error.hpp"},
    "proxy/admin": {"proxy", "proxy/server", "cache", "store", "config"},
    "proxy/cli": {"*"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(path):
    parts = path.split("/")
    if path == "proxy/main.cpp":
        return "proxy/cli"  # the program's entry point
    if parts[0] == "proxy":
        return "proxy/" + parts[1] if len(parts) > 2 else "proxy"
    return parts[0]


def allowed(src, target):
    if src == target[0]:
        return True
    rules = ALLOWED[src]
    return "*" in rules or target[0] in rules or "%s:%s" % target in rules


def main(root):
    problems = []
    for top in ALLOWED:
        if "/" in top:
            continue
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".cpp", ".hpp")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                src = module_of(rel)
                with open(os.path.join(root, rel)) as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m or "/" not in m.group(1):
                            continue
                        inc = m.group(1)
                        target = (module_of(inc), os.path.basename(inc))
                        if target[0] not in ALLOWED:
                            continue
                        if not allowed(src, target):
                            problems.append("%s:%d: %s may not include %s" % (rel, lineno, src, inc))
    for p in problems:
        print(p)
    print("%d include(s) against the architecture" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
