"""A failing upstream with everything cached: bounded waits, the circuit breaker, the retry
budget and the negative cache of tags.

The upstream is a front to Debian's docker-registry that the test switches between passing
requests on, a black hole (accepts connections and never answers) and answering 503. envcache
runs with its default failure settings (revalidate_timeout 3s, breaker_failures 3,
breaker_probe_interval 10s, retry_budget 0.2, negative_ttl 5s) and tag_ttl 1s, so every cached
tag is stale when the upstream fails.
"""

import json
import os
import threading
import time

from fixtures import (
    CountingProxy,
    EnvcacheTestCase,
    Image,
    MANIFEST_ACCEPT,
    http_request,
    layout_blob_digests,
    layout_top_digest,
    make_layer,
    pull,
    push,
    wait_until,
)

UPSTREAM = "upstream.test"
PROBE_INTERVAL_S = 10  # breaker_probe_interval's default
NEGATIVE_TTL_S = 5  # negative_ttl's default
IMAGES = 6


class FaultyFront(CountingProxy):
    """A CountingProxy that can also hang every request (a black hole) or answer 503."""

    def __init__(self, upstream_port):
        super().__init__(upstream_port)
        self.mode = "pass"
        self.gate = threading.Event()

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
            gate = self.gate
            self.gate = threading.Event()
        gate.set()  # requests hanging so far are let go (and answer 503, not the registry)

    def stop(self):
        self.set_mode("503")
        super().stop()

    def _forward(self, handler):
        with self.lock:
            mode = self.mode
            gate = self.gate
            if mode != "pass":
                self.requests.append((handler.command, handler.path))
        if mode == "pass":
            super()._forward(handler)
            return
        if mode == "hang":
            gate.wait(timeout=120)
        body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "down"}]}).encode()
        try:
            handler.send_response(503)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def count(self, method=None, contains=""):
        return sum(
            1 for m, p in self.snapshot() if (method is None or m == method) and contains in p
        )


class CircuitBreakerTest(EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)
        self.images = []
        for i in range(IMAGES):
            image = Image([make_layer(1000 + i, 64 * 1024)], label="breaker-%d" % i)
            repo = "breaker/img%d" % i
            push(self.workdir, self.registry.hostport, repo, "v1", image)
            self.images.append((repo, image))
        self.front = FaultyFront(self.registry.port)
        self.addCleanup(self.front.stop)
        self.front.start()

    def start(self, upstream_keys=""):
        # Further keys of the upstream go into its flow mapping after tag_ttl.
        tag_ttl = "1s" + (", " + upstream_keys if upstream_keys else "")
        self.cache = self.start_envcache(self.workdir, self.front.url, tag_ttl=tag_ttl)

    def pull_checked(self, round_name, repo, image, tag="v1"):
        out = os.path.join(self.workdir, "%s-%s" % (round_name, repo.replace("/", "_")))
        pull(self.cache.hostport, repo, tag, out)
        self.assertEqual(layout_top_digest(out), image.manifest.digest)
        self.assertEqual(layout_blob_digests(out), {b.digest for b in image.all_blobs()})

    def pull_all_timed(self, round_name):
        start = time.monotonic()
        for repo, image in self.images:
            self.pull_checked(round_name, repo, image)
        return time.monotonic() - start

    def warm_and_go_stale(self):
        """Pulls every image once through envcache, then waits until every tag is past tag_ttl."""
        self.pull_all_timed("warm")
        warmed = time.time()
        wait_until(lambda: time.time() >= warmed + 2.0, 5, "the tags to pass tag_ttl (1s)")

    def circuit_lines(self, state):
        """How many times envcache logged its upstream's breaker going into `state`."""
        with open(self.cache.log_path, errors="replace") as f:
            return f.read().count("upstream %s: circuit %s:" % (UPSTREAM, state))

    def upstream_stats(self):
        return self.stats()["upstreams"][UPSTREAM]

    def test_black_hole_then_503_cached_images_are_served_within_the_bounds(self):
        self.start()
        self.warm_and_go_stale()
        stale_before = self.upstream_stats()["stale"]

        self.front.reset()
        self.front.set_mode("hang")
        elapsed = self.pull_all_timed("black-hole")
        print("\n6 cached images, upstream a black hole: %.2f s" % elapsed)
        self.assertLessEqual(elapsed, 15.0)
        stats = self.upstream_stats()
        self.assertEqual(stats["circuit"], "open", stats)
        self.assertGreaterEqual(stats["circuit_opened"], 1, stats)
        self.assertGreaterEqual(stats["stale"] - stale_before, IMAGES, stats)
        wait_until(lambda: self.circuit_lines("open") >= 1, 5, "the breaker's log line")
        self.assertEqual(self.circuit_lines("open"), 1)  # logged once, not once per request
        # The revalidating HEADs were not retried: the breaker opened after its 3 failures and
        # nothing more went upstream (a probe at most, were the pulls slower than the interval).
        self.assertLessEqual(self.front.count(), 4, self.front.snapshot())

        # A manifest the store does not have fails fast, 503, naming the upstream.
        start = time.monotonic()
        status, _, body = http_request(
            self.cache.port, "GET", "/v2/breaker/img0/manifests/never-pulled",
            headers={"Accept": MANIFEST_ACCEPT}
        )
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(status, 503, body)
        error = json.loads(body)["errors"][0]
        self.assertEqual(error["code"], "UNAVAILABLE")
        self.assertIn(UPSTREAM, error["message"])
        self.assertNotIn("127.0.0.1", error["message"])
        status, _, body = self.cache.request("GET", "/api/v1/admin/metrics")
        self.assertEqual(status, 200)
        self.assertIn(
            'envcache_upstream_circuit_state{upstream="upstream.test",state="open"} 1',
            body.decode(),
        )

        # The upstream answers again: a new tag is fetched within the probe interval.
        fresh = Image([make_layer(2000, 64 * 1024)], label="breaker-new")
        push(self.workdir, self.registry.hostport, "breaker/new", "v1", fresh)
        self.front.set_mode("pass")
        back = time.monotonic()
        path = "/v2/breaker/new/manifests/v1"

        def fetched():
            status, _, _ = http_request(self.cache.port, "GET", path,
                                        headers={"Accept": MANIFEST_ACCEPT})
            self.assertIn(status, (200, 503))  # the open breaker's fast 503 until the probe
            return status == 200

        wait_until(fetched, PROBE_INTERVAL_S + 5, "the new tag to be fetched")
        recovered = time.monotonic() - back
        print("upstream back: new tag fetched %.2f s later" % recovered)
        # The breaker opened before the upstream came back, so its probe is due within the
        # interval; 0.2 s more is the polling step above.
        self.assertLessEqual(recovered, PROBE_INTERVAL_S + 0.2)
        out = os.path.join(self.workdir, "recovered")
        pull(self.cache.hostport, "breaker/new", "v1", out)
        self.assertEqual(layout_top_digest(out), fresh.manifest.digest)
        self.assertEqual(self.upstream_stats()["circuit"], "closed")
        self.assertEqual(self.circuit_lines("half_open"), 1)
        self.assertEqual(self.circuit_lines("closed"), 1)

        # The upstream answering 503: every cached image still comes at once.
        self.warm_and_go_stale()
        self.front.reset()
        self.front.set_mode("503")
        elapsed = self.pull_all_timed("503")
        print("6 cached images, upstream answering 503: %.2f s, %d upstream requests"
              % (elapsed, self.front.count()))
        self.assertLessEqual(elapsed, 5.0)
        self.assertEqual(self.upstream_stats()["circuit"], "open")
        self.assertEqual(self.circuit_lines("open"), 2)
        # 3 answers opened the breaker; without it and the budget it would be 6 × 4.
        self.assertLessEqual(self.front.count(), 4, self.front.snapshot())

    def test_retries_stay_within_the_budget(self):
        # The breaker off, so only the budget limits retries of a failing upstream.
        self.start(upstream_keys="breaker_failures: 0")
        self.front.set_mode("503")
        requests = 40
        for i in range(requests):
            status, _, body = http_request(
                self.cache.port, "GET", "/v2/breaker/img0/manifests/missing-%d" % i,
                headers={"Accept": MANIFEST_ACCEPT}
            )
            self.assertEqual(status, 502, body)
        sent = self.front.count()
        stats = self.upstream_stats()
        print("\n%d requests, upstream answering 503, retries: 3, breaker off: %d upstream "
              "requests (%d retries allowed, %d refused)"
              % (requests, sent, stats["retries"], stats["retries_refused"]))
        # At most a share of 0.2 of the requests plus a floor of 10, not 40 × 3 retries.
        self.assertLessEqual(sent, requests + 0.2 * requests + 10 + 1)
        self.assertGreater(sent, requests)  # the floor was spent
        self.assertEqual(stats["retries"], sent - requests)
        self.assertEqual(stats["circuit"], "closed")

    def test_a_missing_tag_is_asked_upstream_once_per_negative_ttl(self):
        self.start()
        path = "/v2/breaker/img0/manifests/later"
        first = time.monotonic()
        for _ in range(20):
            status, _, body = http_request(self.cache.port, "GET", path,
                                           headers={"Accept": MANIFEST_ACCEPT})
            self.assertEqual(status, 404, body)
            self.assertEqual(json.loads(body)["errors"][0]["code"], "MANIFEST_UNKNOWN")
        within_ttl = time.monotonic() - first < NEGATIVE_TTL_S
        asked = self.front.count("GET", "/manifests/later")
        print("\n20 asks for a missing tag: %d upstream requests" % asked)
        if within_ttl:
            self.assertEqual(asked, 1, self.front.snapshot())
        self.assertGreaterEqual(self.upstream_stats()["negative"], 19 if within_ttl else 1)

        # Pushed meanwhile: seen once the negative entry ends.
        _, image = self.images[0]
        push(self.workdir, self.registry.hostport, "breaker/img0", "later", image)

        def found():
            status, _, _ = http_request(self.cache.port, "GET", path,
                                        headers={"Accept": MANIFEST_ACCEPT})
            return status == 200

        wait_until(found, NEGATIVE_TTL_S + 5, "the pushed tag to be served")
