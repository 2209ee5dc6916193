"""The chaos soak: envcache between concurrent skopeo pulls and an upstream that fails at random,
SIGKILLed at random moments and restarted on the same store.

- FaultFront: a CountingProxy in front of docker-registry that injects a fault into a share of the
  GET and HEAD requests under /v2/, picked by a seeded RNG: connection resets, truncated and
  corrupted bodies, 503s, hangs and slow bodies.
- Soak: the stack (registry, front, envcache on a fixed port), the records made through the APIs
  (pins, environments and their versions, limits) and the rounds with the checks after each.

Used by test_soak.py (a few rounds) and bench/soak.py (as many rounds as fit in a duration). The
seed is printed first; the same seed replays the same fault and kill decisions (the order in which
concurrent requests draw from the RNG still varies).
"""

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time

import fixtures as F

FAULT_KINDS = ("reset", "503", "hang", "truncate", "corrupt", "slow")
HEAD_FAULT_KINDS = ("reset", "503", "hang")  # a HEAD has no body to cut, corrupt or slow down

UPSTREAM = "upstream.test"
# Short upstream waits: a hung request costs 2 s per attempt, not a minute.
UPSTREAM_KEYS = ", connect_timeout: 2s, read_timeout: 2s, retries: 1"
MAX_SIZES = ("12MiB", "16MiB")  # the limits set through the admin API, in turn
POLICIES = ("s3fifo", "lru", "sieve")
PULL_TIMEOUT_S = 120
SKOPEO_DIGEST_ERROR = re.compile(r"digest did not match|does not match|digest mismatch", re.I)


class FaultFront(F.CountingProxy):
    """A CountingProxy that injects a random fault into `rate` of the requests (0: none)."""

    def __init__(self, upstream_port, seed):
        super().__init__(upstream_port)
        self.rng = random.Random(seed)
        self.rate = 0.0
        self.faults = {kind: 0 for kind in FAULT_KINDS}
        self.calm_gate.set()

    def set_rate(self, rate):
        with self.lock:
            self.rate = rate
            if rate:
                self.calm_gate.clear()
            else:
                self.calm_gate.set()  # lets hung requests go

    def fault_for(self, method, path):
        if method not in ("GET", "HEAD") or not path.startswith("/v2/") or path == "/v2/":
            return None
        with self.lock:
            if self.rate <= 0 or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(FAULT_KINDS if method == "GET" else HEAD_FAULT_KINDS)
            self.faults[kind] += 1
            return kind


def _sha256_of_body(port, path, timeout=60):
    """GET one path from envcache: (status, digest of the body)."""
    status, _headers, body = F.http_request(port, "GET", path, {"Accept": F.MANIFEST_ACCEPT}, timeout=timeout)
    return status, F.sha256_digest(body)


class Soak:
    """One soak: setup(), then run_round() as often as wanted, then close(); counters in stats."""

    def __init__(self, workdir, seed, images=8, workers=4, fault_rate=0.3, kill_chance=0.6,
                 pulls_per_image=3, say=print):
        self.workdir = workdir
        self.seed = seed
        self.rng = random.Random(seed ^ 0x5EED)  # kills, limits, pin changes: apart from faults
        self.n_images = images
        self.workers = workers
        self.fault_rate = fault_rate
        self.kill_chance = kill_chance
        self.pulls_per_image = pulls_per_image
        self.say = say
        self.registry = None
        self.front = None
        self.cache = None
        self.cache_lock = threading.Lock()
        self.port = F.free_port()
        self.stats = {
            "rounds": 0,
            "kills": 0,
            "pulls_ok": 0,
            "pulls_failed": 0,
            "wrong_digests": 0,  # a pull that succeeded with bytes other than those pushed
            "served_corrupt": 0,  # a client told of a digest mismatch, or a bad body served
            "verify_corrupt": 0,  # blobs envcache verify found corrupt or unreadable
            "partial_removed_at_open": 0,
            "lost_records": 0,
        }
        self.refs = []  # (repo, tag, Image) pulled in rounds
        self.pins = set()  # admin pins expected
        self.limits = None  # the limits last set through the admin API
        self.versions = {}  # version -> environment hash
        self.env_hash = None
        self.log_tails = []
        self.killer_error = None
        self.failures = {}  # pull failures by the reason skopeo gave

    # ---------------------------------------------------------------------------------------
    # set-up

    def setup(self):
        self.say("soak seed %d (SOAK_SEED=%d, or bench/soak/soak.py --seed %d, replays it)" % ((self.seed,) * 3))
        self.registry = F.Registry(self.workdir).start()
        base = F.make_layer(900, 256 << 10, name="base/os")
        for i in range(self.n_images):
            image = F.Image(
                [base, F.make_layer(1000 + 2 * i, 1536 << 10), F.make_layer(1001 + 2 * i, 1 << 20)],
                label="soak-%d" % i,
            )
            self.refs.append(("soak/img%d" % i, "1", image))
            F.push(self.workdir, self.registry.hostport, "soak/img%d" % i, "1", image)
        self.front = FaultFront(self.registry.port, self.seed).start()
        self._start_cache()
        # Records made through the APIs while the upstream is healthy; they must survive it all.
        pinned_repo, _tag, pinned = self.refs[0]
        self._add_pin("%s/%s:1" % (UPSTREAM, pinned_repo))
        self._register_version("1")
        env_repo, _tag, env_image = self.refs[1]
        status, body = self._call(
            "PUT", "/api/v1/environments/by-hash/%s" % self.versions["1"],
            {"image": "%s/%s:1" % (UPSTREAM, env_repo), "pin": True},
        )
        self._expect(status in (200, 201), "register by hash: %d %r" % (status, body))
        self.env_hash = self.versions["1"]
        self.pins.add(self.env_hash)
        self.env_image = env_image
        # Pinned content is pulled once, cleanly, so it is in the store from now on.
        self._pull_checked(pinned_repo, "1", pinned, "setup-pinned")
        self._pull_checked("environments/" + self.env_hash, "latest", env_image, "setup-env")
        self._set_limits()
        return self

    def _start_cache(self):
        cache = F.Envcache(
            self.workdir, self.front.url, tag_ttl="0s", max_size=MAX_SIZES[0],
            listen="127.0.0.1:%d" % self.port, upstream_extra=UPSTREAM_KEYS,
        )
        cache.start()
        # Writes a SIGKILL cut short: never visible as blobs, removed when the store opens.
        m = re.search(r"(\d+) partial removed", cache.log())
        self.stats["partial_removed_at_open"] += int(m.group(1)) if m else 0
        with self.cache_lock:
            self.cache = cache

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        status, _h, out = F.http_request(self.port, method, path, headers, data, timeout=30)
        try:
            return status, json.loads(out)
        except ValueError:
            return status, {"raw": out[:300].decode(errors="replace")}

    def _expect(self, condition, what):
        if not condition:
            raise AssertionError("soak (seed %d): %s" % (self.seed, what))

    def _add_pin(self, pin):
        status, body = self._call("POST", "/api/v1/admin/pins", {"pin": pin})
        self._expect(status == 201, "pin %s: %d %r" % (pin, status, body))
        self.pins.add(pin)

    def _remove_pin(self, pin):
        from urllib.parse import quote

        status, body = self._call("DELETE", "/api/v1/admin/pins/" + quote(pin, safe=""))
        self._expect(status == 200, "unpin %s: %d %r" % (pin, status, body))
        self.pins.discard(pin)

    def _register_version(self, version):
        bundle = {
            "environment": "name: soak\nimage: %s/%s:1\n" % (UPSTREAM, self.refs[1][0]),
            "requirements": "requests==2.32.%s\n" % version,
        }
        status, body = self._call("PUT", "/api/v1/environments/soak/versions/%s" % version, bundle)
        self._expect(status == 201, "register version %s: %d %r" % (version, status, body))
        self.versions[version] = body["hash"]

    def _set_limits(self):
        limits = {
            "max_size": self.rng.choice(MAX_SIZES),
            "policy": self.rng.choice(POLICIES),
            "high_watermark": 0.9,
            "low_watermark": 0.75,
        }
        status, body = self._call("PUT", "/api/v1/admin/limits", limits)
        self._expect(status == 200, "set limits %r: %d %r" % (limits, status, body))
        self.limits = body

    # ---------------------------------------------------------------------------------------
    # pulls

    def _pull(self, repo, tag, image, name):
        out = os.path.join(self.workdir, "pull-" + name)
        try:
            proc = F.pull("127.0.0.1:%d" % self.port, repo, tag, out, check=False, timeout=PULL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            shutil.rmtree(out, ignore_errors=True)
            return False, "skopeo timed out after %d s" % PULL_TIMEOUT_S
        try:
            if proc.returncode != 0:
                return False, proc.stderr.decode(errors="replace")
            got = (F.layout_top_digest(out), F.layout_blob_digests(out))
            want = (image.manifest.digest, {b.digest for b in image.all_blobs()})
            return True, None if got == want else "pulled %r, pushed %r" % (got, want)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _pull_checked(self, repo, tag, image, name):
        ok, problem = self._pull(repo, tag, image, name)
        self._expect(ok and problem is None, "clean pull of %s:%s: %s" % (repo, tag, problem))

    def _puller(self, jobs, round_no, results):
        while True:
            try:
                k, (repo, tag, image) = jobs.pop()
            except IndexError:
                return
            ok, problem = self._pull(repo, tag, image, "r%d-%d" % (round_no, k))
            results.append((repo, ok, problem))

    def _killer(self, done):
        """SIGKILLs envcache at a random moment (or two) of the round and restarts it."""
        try:
            self._kill_and_restart(done)
        except BaseException as e:  # a failed restart: reported by the round
            self.killer_error = e

    def _kill_and_restart(self, done):
        for _ in range(2):
            if self.rng.random() >= self.kill_chance:
                return
            if done.wait(self.rng.uniform(0.5, 5.0)):
                return
            with self.cache_lock:
                cache = self.cache
            cache.kill()
            self.stats["kills"] += 1
            self.log_tails.append(cache.log()[-4000:])
            self.log_tails = self.log_tails[-3:]
            self._start_cache()

    # ---------------------------------------------------------------------------------------
    # a round

    def run_round(self):
        n = self.stats["rounds"] + 1
        started = time.monotonic()
        # API changes first, with the upstream healthy: each must be there at the end.
        self._set_limits()
        self._register_version(str(n + 1))
        extra_pin = "%s/%s:1" % (UPSTREAM, self.refs[2][0])
        if extra_pin in self.pins:
            self._remove_pin(extra_pin)
        else:
            self._add_pin(extra_pin)
        refs = self.refs + [("environments/" + self.env_hash, "latest", self.env_image)]
        jobs = list(enumerate(refs * self.pulls_per_image))
        self.rng.shuffle(jobs)
        results = []
        done = threading.Event()
        self.front.set_rate(self.fault_rate)
        killer = threading.Thread(target=self._killer, args=(done,), daemon=True)
        killer.start()
        pullers = [threading.Thread(target=self._puller, args=(jobs, n, results), daemon=True)
                   for _ in range(self.workers)]
        for t in pullers:
            t.start()
        for t in pullers:
            t.join(PULL_TIMEOUT_S + 30)
        done.set()
        killer.join(F.STARTUP_DEADLINE_S + 10)
        if self.killer_error is not None:
            raise AssertionError("soak (seed %d): envcache did not restart after SIGKILL: %s" % (self.seed, self.killer_error))
        self.front.set_rate(0)
        for repo, ok, problem in results:
            if ok:
                self.stats["pulls_ok"] += 1
                if problem is not None:
                    self.stats["wrong_digests"] += 1
                    self.say("round %d: %s: %s" % (n, repo, problem))
            else:
                self.stats["pulls_failed"] += 1
                reason = self._failure_reason(problem or "")
                self.failures[reason] = self.failures.get(reason, 0) + 1
                if SKOPEO_DIGEST_ERROR.search(problem or ""):
                    self.stats["served_corrupt"] += 1
                    self.say("round %d: %s was served bad bytes: %s" % (n, repo, problem[-600:]))
        self._check_round(n)
        self.stats["rounds"] = n
        self.say("round %d: %.1f s, %s; faults %s" % (n, time.monotonic() - started, self.summary_counts(), self.front.faults))
        self._expect(
            self.stats["wrong_digests"] == 0 and self.stats["served_corrupt"] == 0,
            "bad bytes reached a client (see above)",
        )

    @staticmethod
    def _failure_reason(stderr):
        for reason, pattern in (
            ("refused", r"connection refused"),
            ("reset", r"connection reset|broken pipe"),
            ("eof", r"unexpected EOF|\bEOF\b"),
            ("timeout", r"timed out|timeout|deadline"),
            ("5xx", r"50[0-9]|unavailable|bad gateway"),
            ("not found", r"unknown|not found|404"),
        ):
            if re.search(pattern, stderr, re.I):
                return reason
        return "other: " + stderr.strip().splitlines()[-1][-160:] if stderr.strip() else "other"

    def _check_round(self, n):
        # A clean stop (SIGTERM must exit 0), then the store re-hashed offline.
        with self.cache_lock:
            cache = self.cache
        code = cache.stop()
        self._expect(code == 0, "round %d: envcache exited %r on SIGTERM:\n%s" % (n, code, cache.log()[-6000:]))
        verify = subprocess.run(
            [F.envcache_binary(), "verify", "--config", os.path.join(self.workdir, "envcache.yml")],
            capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
        )
        text = verify.stdout.decode(errors="replace") + verify.stderr.decode(errors="replace")
        m = re.search(r"(\d+) partial blobs removed at open", text)
        self.stats["partial_removed_at_open"] += int(m.group(1)) if m else 0  # after a clean stop: 0
        m = re.search(r"(\d+) corrupt, \d+ removed, (\d+) unreadable", text)
        if m:
            self.stats["verify_corrupt"] += int(m.group(1)) + int(m.group(2))
        self._expect(verify.returncode == 0 and m is not None, "round %d: envcache verify (exit %d):\n%s" % (n, verify.returncode, text))
        self._start_cache()
        self._check_records(n)
        self._check_served(n)

    def _check_records(self, n):
        lost = []
        status, pins = self._call("GET", "/api/v1/admin/pins")
        have = {p["pin"] for p in pins.get("pins", [])} if status == 200 else set()
        lost += ["pin " + p for p in sorted(self.pins - have)]
        lost += ["unexpected pin " + p for p in sorted(have - self.pins)]
        status, limits = self._call("GET", "/api/v1/admin/limits")
        for key in ("max_size", "policy", "high_watermark", "low_watermark"):
            if status != 200 or limits.get(key) != self.limits.get(key):
                lost.append("limit %s: %r, set %r" % (key, limits.get(key), self.limits.get(key)))
        status, env = self._call("GET", "/api/v1/environments/by-hash/%s" % self.env_hash)
        if status != 200 or (env.get("image") or {}).get("digest") != self.env_image.manifest.digest:
            lost.append("environment %s: %d %r" % (self.env_hash, status, env))
        status, listed = self._call("GET", "/api/v1/environments/soak/versions")
        have_versions = {v["version"]: v["hash"] for v in listed.get("versions", [])} if status == 200 else {}
        if have_versions != self.versions:
            lost.append("versions: %r, registered %r" % (have_versions, self.versions))
        self.stats["lost_records"] += len(lost)
        self._expect(not lost, "round %d: records lost: %s" % (n, "; ".join(lost)))

        # Usage within the limit (the evictor may still be catching up with a lowered limit).
        def within():
            status, s = self._call("GET", "/api/v1/admin/stats")
            self.last_usage = (s.get("used_bytes"), s.get("max_bytes"))
            return status == 200 and s["used_bytes"] <= s["max_bytes"]

        F.wait_until(within, 30, "round %d: usage within max_size (used, max = %r)" % (n, getattr(self, "last_usage", None)))

    def _check_served(self, n):
        """Every manifest and blob read through envcache, upstream healthy: the pushed bytes, and
        the pinned images' blobs from the store (no blob GET reaches the upstream)."""
        self.front.reset()
        pinned_blobs = {b.digest for b in self.refs[0][2].blobs()} | {b.digest for b in self.env_image.blobs()}
        bad = []
        for repo, tag, image in self.refs:
            status, digest = _sha256_of_body(self.port, "/v2/%s/manifests/%s" % (repo, tag))
            if status != 200 or digest != image.manifest.digest:
                bad.append("%s:%s manifest: %d %s" % (repo, tag, status, digest))
            for blob in image.blobs():
                status, digest = _sha256_of_body(self.port, "/v2/%s/blobs/%s" % (repo, blob.digest))
                if status != 200 or digest != blob.digest:
                    bad.append("%s blob %s: %d %s" % (repo, blob.digest, status, digest))
        self.stats["served_corrupt"] += len(bad)
        self._expect(not bad, "round %d: served wrong: %s" % (n, "; ".join(bad)))
        fetched = {d for d in self.front.blob_gets() if d in pinned_blobs}
        self.stats["lost_records"] += len(fetched)
        self._expect(not fetched, "round %d: pinned blobs fetched again from upstream: %s" % (n, sorted(fetched)))

    # ---------------------------------------------------------------------------------------

    def summary_counts(self):
        s = self.stats
        return (
            "rounds %d, kills %d, pulls %d ok / %d failed, wrong digests %d, served corrupt %d, "
            "verify corrupt %d, partial removed at open %d, lost records %d"
            % (s["rounds"], s["kills"], s["pulls_ok"], s["pulls_failed"], s["wrong_digests"],
               s["served_corrupt"], s["verify_corrupt"], s["partial_removed_at_open"], s["lost_records"])
        )

    def summary(self):
        faults = self.front.faults if self.front else {}
        return "soak seed %d: %s; faults %s (%d); failed pulls by reason: %s" % (
            self.seed, self.summary_counts(),
            ", ".join("%s %d" % kv for kv in sorted(faults.items())), sum(faults.values()),
            ", ".join("%s %d" % kv for kv in sorted(self.failures.items())) or "none",
        )

    def logs(self):
        out = list(self.log_tails)
        if self.cache is not None:
            out.append(self.cache.log()[-8000:])
        if self.registry is not None:
            out.append(self.registry.log()[-3000:])
        return "\n-----\n".join(out)

    def close(self):
        if self.front is not None:
            self.front.set_rate(0)
        if self.cache is not None:
            self.cache.stop()
        if self.front is not None:
            self.front.stop()
        if self.registry is not None:
            self.registry.stop()
