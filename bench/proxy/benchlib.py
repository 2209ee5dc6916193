#!/usr/bin/env python3
"""Helpers of bench/proxy/run.sh (Python 3 stdlib only).

  benchlib.py free-port                      a free loopback TCP port
  benchlib.py wait URL SECONDS [any]         polls URL until it answers 200, or anything with "any" (exit 1 on time-out)
  benchlib.py static-tree UPSTREAM LAYOUT IMAGES OUT
        lays out OUT/v2/<repo>/manifests/<tag|digest> and OUT/v2/<repo>/blobs/<digest> (blobs
        are symlinks into the OCI layout) after checking that the upstream serves the layout's
        manifests, and writes OUT/urls/{manifests,small,large,huge}.txt
  benchlib.py verify BASE_URL URL_LIST...    GETs every path of the lists from BASE_URL and
        checks status, digest (blobs: sha256 of the body; manifests: the expected digest) and
        the manifest Content-Type
  benchlib.py fresh-writer FILE MIB_PER_S SECONDS
        writes a new FILE (unlinked at once) for SECONDS at up to MIB_PER_S (1 MiB writes) and prints
        "fresh_mib=N fresh_sys_s=S": the MiB written and the system CPU it took
  benchlib.py table RESULTS_DIR              prints the markdown tables from the raw results
"""

import hashlib
import json
import os
import resource
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
SMALL_LIMIT = 1 << 20
LARGE_LIMIT = 16 << 20
# The bench's https:// servers use a self-signed certificate made for the run.
UNVERIFIED = ssl._create_unverified_context()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def wait(url, seconds, accept="200"):
    """Until `url` answers 200 (with accept "any": answers at all, 401 included)."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=UNVERIFIED) as r:
                if r.status == 200:
                    return 0
        except urllib.error.HTTPError:
            if accept == "any":
                return 0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    print(f"benchlib: {url} did not answer within {seconds}s", file=sys.stderr)
    return 1


def get(url, accept=None, timeout=120):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout, context=UNVERIFIED) as r:
        return r.status, r.headers, r.read()


def link(target, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def static_tree(upstream, layout, images_file, out):
    urls = {"manifests": [], "small": [], "large": [], "huge": [], "cold512": []}
    with open(images_file) as f:
        images = [line.split() for line in f if line.strip()]
    for repo, tag, digest in images:
        status, headers, body = get(f"{upstream}/v2/{repo}/manifests/{tag}", MANIFEST_ACCEPT)
        served = "sha256:" + hashlib.sha256(body).hexdigest()
        if status != 200 or served != digest:
            sys.exit(f"benchlib: upstream serves {repo}:{tag} as {served}, the layout has {digest}")
        write(os.path.join(out, "v2", repo, "manifests", tag), body)
        write(os.path.join(out, "v2", repo, "manifests", digest), body)
        if repo not in ("bench/huge", "bench/cold512"):  # these stay out of the warm caches
            urls["manifests"].append(f"/v2/{repo}/manifests/{tag} {digest}")
        manifest = json.loads(body)
        for desc in [manifest["config"]] + manifest["layers"]:
            blob = os.path.join(os.path.abspath(layout), "blobs", "sha256",
                                desc["digest"].split(":", 1)[1])
            if os.path.getsize(blob) != desc["size"]:
                sys.exit(f"benchlib: {blob} is not {desc['size']} bytes")
            link(blob, os.path.join(out, "v2", repo, "blobs", desc["digest"]))
            path = f"/v2/{repo}/blobs/{desc['digest']}"
            if repo == "bench/small" and desc["size"] < SMALL_LIMIT:
                urls["small"].append(path)
            elif repo == "bench/large" and desc["size"] > LARGE_LIMIT:
                urls["large"].append(path)
            elif repo == "bench/huge" and desc["size"] > LARGE_LIMIT:
                urls["huge"].append(path)
            elif repo == "bench/cold512" and desc["size"] > LARGE_LIMIT:
                urls["cold512"].append(path)
    for name, lines in urls.items():
        if not lines:
            if name in ("manifests", "small", "large"):  # the others are absent under --tls
                sys.exit(f"benchlib: no {name} URLs")
            continue
        write(os.path.join(out, "urls", name + ".txt"), ("\n".join(lines) + "\n").encode())
    return 0


def verify(base, lists):
    bad = 0
    checked = 0
    for name in lists:
        with open(name) as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                path = parts[0]
                is_manifest = "/manifests/" in path
                expected = parts[1] if is_manifest else path.rsplit("/", 1)[1]
                try:
                    status, headers, body = get(base + path, MANIFEST_ACCEPT if is_manifest else None)
                except (urllib.error.URLError, OSError) as e:
                    print(f"verify: {base}{path}: {e}", file=sys.stderr)
                    bad += 1
                    continue
                got = "sha256:" + hashlib.sha256(body).hexdigest()
                ctype = headers.get("Content-Type", "")
                if status != 200 or got != expected or (
                        is_manifest and not ctype.startswith("application/vnd.oci.image.manifest")):
                    print(f"verify: {base}{path}: status {status}, digest {got}, type {ctype}",
                          file=sys.stderr)
                    bad += 1
                checked += 1
    print(f"verify: {base}: {checked - bad}/{checked} responses correct")
    return 1 if bad else 0


def fresh_writer(path, mib_per_s, seconds):
    """Fills fresh page-cache pages at a steady rate: the disturbance of the p99 reference."""
    rate, seconds = float(mib_per_s), float(seconds)
    block = b"\0" * (1 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    start = time.monotonic()
    written = 0
    with open(path, "wb", buffering=0) as f:
        os.unlink(path)  # nothing is left behind, whatever happens; the pages go at close
        while (now := time.monotonic() - start) < seconds:
            if written < rate * now:
                f.write(block)
                written += 1
            else:
                time.sleep(min(0.005, seconds - now))
        sys_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - before  # writes only
    print(f"fresh_mib={written} fresh_sys_s={sys_s:.3f}")
    return 0


def parse_result(path):
    """The RESULT line that rotate.lua printed, as a dict of ints."""
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return None


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def wrk_rounds(results, test, contender):
    """Each round's figure of one wrk test (req/s, or MB/s for "large"), and its errors."""
    figures, errors = [], 0
    for name in sorted(os.listdir(results)):
        if not name.startswith(f"wrk-{test}-{contender}-r"):
            continue
        r = parse_result(os.path.join(results, name))
        if r is None:
            continue
        seconds = r["duration_us"] / 1e6
        errors += r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
        figures.append(r["bytes"] / seconds / 1e6 if test.endswith("large") else r["requests"] / seconds)
    return figures, errors


def tls_table(results):
    """envcache over TLS against nginx over TLS, same files, same run."""
    contenders = [("nginx-tls1", "nginx TLS, 1 worker"), ("nginx-tls2", "nginx TLS, 2 workers"),
                  ("envcache-tls", "envcache TLS")]
    out = ["| warm over TLS (median of rounds) | " + " | ".join(label for _, label in contenders)
           + " | envcache / better nginx | target | met |",
           "|---|" + "---|" * (len(contenders) + 3)]
    for test, label, unit in (("tls-small", "blobs < 1 MiB", "req/s"), ("tls-large", "blobs > 16 MiB", "MB/s")):
        values, notes = {}, []
        for c, _ in contenders:
            figures, errors = wrk_rounds(results, test, c)
            values[c] = median(figures)
            if errors:
                notes.append(f"{c}: {errors} errors")
        nginx = [v for v in (values["nginx-tls1"], values["nginx-tls2"]) if v]
        e, n = values["envcache-tls"], max(nginx) if nginx else None
        ratio = e / n if e is not None and n else None
        met = "n/a" if ratio is None else ("yes" if ratio >= 0.80 else "**no**")
        if notes:
            met += " (" + "; ".join(notes) + ")"
        cells = [f"{fmt(values[c], 1 if unit == 'MB/s' else 0)} {unit}" if values[c] is not None else "n/a"
                 for c, _ in contenders]
        out.append(f"| {label} | " + " | ".join(cells)
                   + f" | {fmt(100 * ratio, 1) + ' %' if ratio is not None else 'n/a'} | ≥ 80 % | {met} |")
    plain = [(test, label, unit) for test, label, unit in
             (("plain-manifests", "manifests by tag", "req/s"), ("plain-small", "blobs < 1 MiB", "req/s"),
              ("plain-large", "blobs > 16 MiB", "MB/s"))
             if wrk_rounds(results, test, "baseline-plain")[0]]
    if plain:
        out.append("")
        out.append("| plain HTTP (median of rounds) | BASELINE | this build | this / BASELINE |")
        out.append("|---|---|---|---|")
        for test, label, unit in plain:
            b_, e_ = (median(wrk_rounds(results, test, c)[0]) for c in ("baseline-plain", "envcache-plain"))
            digits = 1 if unit == "MB/s" else 0
            out.append(f"| {label} | {fmt(b_, digits)} {unit} | {fmt(e_, digits)} {unit} | {fmt(100 * e_ / b_, 1)} % |")
    out.append("")
    out.append("Rounds (envcache TLS): " + "; ".join(
        f"{label}: " + ", ".join(fmt(v, 1 if unit == "MB/s" else 0) for v in wrk_rounds(results, test, "envcache-tls")[0])
        for test, label, unit in (("tls-small", "blobs < 1 MiB", "req/s"), ("tls-large", "blobs > 16 MiB", "MB/s")))
        + ".")
    return out


def p99_table(results):
    """The p99 row and its nginx reference from p99.txt (empty when the run had no p99 section)."""
    p99 = os.path.join(results, "p99.txt")
    if not os.path.exists(p99):
        return []
    quiet, busy, secs, before, ng_quiet, ng_busy, fresh = [], [], [], [], [], [], []
    with open(p99) as f:
        for line in f:
            kv = dict(item.split("=", 1) for item in line.split())
            if not kv.get("quiet_p99_us") or not kv.get("busy_p99_us"):
                continue  # a window that printed no result (wrk timed out): not a round
            quiet.append(int(kv["quiet_p99_us"]))
            busy.append(int(kv["busy_p99_us"]))
            secs.append(float(kv["download_s"]))
            if "load" in kv:
                before.append(f"{kv['load']} / {int(kv['dirty_kb']) // 1024} MiB")
            if kv.get("nginx_quiet_p99_us") and kv.get("nginx_busy_p99_us"):
                ng_quiet.append(int(kv["nginx_quiet_p99_us"]))
                ng_busy.append(int(kv["nginx_busy_p99_us"]))
                mib = int(kv.get("fresh_mib") or 0)
                if mib:
                    fresh.append((mib, float(kv["fresh_sys_s"]) * 1024 / mib))

    def row(label, q_rounds, b_rounds, rounds_note, target):
        q, b = median(q_rounds), median(b_rounds)
        ratio = b / q if q else float("inf")
        met = ("yes" if ratio <= 2 else "**no**") if target else "(reference)"
        return (f"| {label}; rounds: alone {', '.join(f'{v / 1000:.2f}' for v in q_rounds)} ms; "
                f"busy {', '.join(f'{v / 1000:.2f}' for v in b_rounds)} ms{rounds_note} | "
                f"{q / 1000:.2f} ms | {b / 1000:.2f} ms | {ratio:.2f}× | "
                f"{'≤ 2×' if target else ''} | {met} |")

    if not quiet:
        return ["", "p99 row: no round printed a result (see the wrk outputs in the results)."]
    out = [""]
    out.append("| warm manifest hits, p99 (median of rounds) | alone | busy | ratio | target | met |")
    out.append("|---|---|---|---|---|---|")
    out.append(row("envcache, busy: while 3 cold 512 MiB blobs download", quiet, busy,
                   "; downloads took " + ", ".join(f"{v:.1f}" for v in secs) + " s", True))
    if ng_quiet:
        out.append(row("nginx, 2 workers, busy: while one process writes a new file", ng_quiet,
                       ng_busy, "", False))
    if before:
        out.append("")
        out.append("Before each alone window of envcache, 1-minute load / dirty and writeback "
                   "pages: " + ", ".join(before) + ".")
    if fresh:
        out.append("")
        out.append("The reference's writer, each round: MiB written / system CPU per GiB (the "
                   "cost of fresh pages; bench/README, \"Fresh pages\"): "
                   + ", ".join(f"{mib} / {per:.1f} s" for mib, per in fresh) + ".")
    return out


def cold_rows(results):
    """The cold pulls and memory tables, from cold.txt and rss.txt (full runs and --cold)."""
    out = []
    for name, what, target in (("cold.txt", "the image set (bench/cold0-4)", 1.15),
                               ("cold-large.txt", "bench/cold512 (three 512 MiB layers)", None)):
        path = os.path.join(results, name)
        if not os.path.exists(path):
            continue
        times = {}
        with open(path) as f:
            for line in f:
                who, seconds = line.split()
                times.setdefault(who, []).append(float(seconds))
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        out.append("")
        out.append(f"| cold pull of {what} (median of "
                   f"{len(times.get('direct', []))} rounds) | seconds | × direct | target | met |")
        out.append("|---|---|---|---|---|")
        for who, label in (("direct", "directly from upstream"), ("envcache", "through envcache, fresh store"),
                           ("baseline", "through the BASELINE envcache, fresh store"),
                           ("registry", "through docker-registry proxy, fresh store")):
            if who not in med:
                continue
            ratio = med[who] / med["direct"]
            cell, met = "", ""
            if who == "envcache" and target:
                cell, met = f"≤ {target}×", "yes" if ratio <= target else "**no**"
            all_runs = ", ".join(f"{t:.2f}" for t in times[who])
            out.append(f"| {label} ({all_runs}) | {med[who]:.2f} | {ratio:.2f}× | {cell} | {met} |")
    rss = os.path.join(results, "rss.txt")
    if os.path.exists(rss):
        out.append("")
        with open(rss) as f:
            lines = [line.split() for line in f if line.strip()]
        clients = dict(item.split("=") for item in lines[0][1:])["clients"] if lines else "?"
        out.append(f"| envcache memory, {clients} clients on the 1 GiB blob | VmHWM (peak RSS) | "
                   "peak RssAnon | peak RssFile | clients OK | wall time | target | met |")
        out.append("|---|---|---|---|---|---|---|---|")
        for words in lines:
            kv = dict(item.split("=") for item in words[1:])
            phase = "cold (one upstream download, all clients streamed from it)" \
                if words[0] == "cold" else "warm (served from the store)"
            hwm = int(kv["hwm_kb"]) / 1024
            met = "yes" if hwm < 200 and kv["ok"] == kv["clients"] else "**no**"
            out.append(f"| {phase} | {hwm:.0f} MiB | {int(kv['anon_kb']) / 1024:.0f} MiB | "
                       f"{int(kv['file_kb']) / 1024:.0f} MiB | {kv['ok']}/{kv['clients']} | "
                       f"{kv['seconds']} s | < 200 MiB | {met} |")
    return out


def table(results):
    names = os.listdir(results)
    if not any(n.startswith("wrk-manifests-") for n in names):
        if "cold.txt" in names:  # run.sh --cold
            print("\n".join(cold_rows(results)[1:]))
            return 0
        if not any(n.startswith("wrk-tls-") for n in names):  # run.sh --p99
            print("\n".join(p99_table(results)[1:]))
            return 0
        print("\n".join(tls_table(results)))  # run.sh --tls: the TLS rows only
        return 0
    contenders = [("nginx1", "nginx, 1 worker"), ("nginx2", "nginx, 2 workers"),
                  ("envcache", "envcache"), ("registry", "docker-registry proxy")]
    tests = [("manifests", "manifests by tag", "req/s"), ("small", "blobs < 1 MiB", "req/s"),
             ("large", "blobs > 16 MiB", "MB/s")]
    out = []
    out.append("| test (median of rounds) | " + " | ".join(label for _, label in contenders)
               + " | envcache / better nginx | envcache / docker-registry | target | met |")
    out.append("|---|" + "---|" * (len(contenders) + 4))
    targets = {"manifests": 0.85, "small": 0.85, "large": 0.90}
    for test, label, unit in tests:
        values, notes, rounds = {}, [], {}
        for c, _ in contenders:
            figures, errors = wrk_rounds(results, test, c)
            rounds[c] = figures
            values[c] = median(figures)
            if errors:
                notes.append(f"{c}: {errors} errors")
        cells = [f"{fmt(v, 1 if unit == 'MB/s' else 0)} {unit}" if v is not None else "n/a"
                 for v in (values[c] for c, _ in contenders)]
        nginx = [v for v in (values["nginx1"], values["nginx2"]) if v]
        e, n, d = values["envcache"], max(nginx) if nginx else None, values["registry"]
        r_n = e / n if e is not None and n else None
        r_d = e / d if e is not None and d else None
        met = "n/a" if r_n is None else ("yes" if r_n >= targets[test] else "**no**")
        if notes:
            met += " (" + "; ".join(notes) + ")"
        out.append(f"| {label} | " + " | ".join(cells)
                   + f" | {fmt(100 * r_n, 1) + ' %' if r_n is not None else 'n/a'}"
                   + f" | {fmt(r_d, 1) + '×' if r_d is not None else 'n/a'}"
                   + f" | ≥ {int(100 * targets[test])} % | {met} |")
    out.append("")
    out.append("Rounds (envcache): " + "; ".join(
        f"{label}: " + ", ".join(fmt(v, 1 if unit == "MB/s" else 0) for v in wrk_rounds(results, test, "envcache")[0])
        for test, label, unit in tests) + ".")
    out.extend(p99_table(results))
    if any(n.startswith("wrk-tls-") for n in names):
        out.append("")
        out.extend(tls_table(results))
    loads = []
    for name in sorted(os.listdir(results)):
        if name.startswith("wrk-"):
            with open(os.path.join(results, name)) as f:
                first = f.readline()
            if "load average:" in first:
                loads.append(float(first.split("load average:")[1].split(",")[0]))
    if loads:
        out.append("")
        out.append(f"1-minute load average when the wrk runs started: {min(loads):.2f} to {max(loads):.2f}.")
    outcomes = os.path.join(results, "envcache-outcomes.txt")
    if os.path.exists(outcomes):
        with open(outcomes) as f:
            out.append(f"envcache's answers during the wrk runs (from its request log): {f.read().strip()}.")
    out.extend(cold_rows(results))
    print("\n".join(out))
    return 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-port":
        return free_port()
    if cmd == "wait" and len(args) in (2, 3):
        return wait(*args)
    if cmd == "static-tree" and len(args) == 4:
        return static_tree(*args)
    if cmd == "verify" and len(args) >= 2:
        return verify(args[0], args[1:])
    if cmd == "fresh-writer" and len(args) == 3:
        return fresh_writer(*args)
    if cmd == "table" and len(args) == 1:
        return table(args[0])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
