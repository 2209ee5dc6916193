"""20 clients fetch the same uncached blob of over 64 MiB at once: upstream serves it once, every
client gets the right bytes, and the first client got its first byte before the upstream
download had finished (the blob is streamed through, not stored then served). Clients asking for
one uncached manifest at once, by tag or by digest, cost the upstream one GET."""

import hashlib
import http.client
import threading
import time
import unittest

import fixtures as F

CLIENTS = 20
UPSTREAM_RATE = 24 << 20  # bytes per second: the 66 MiB download takes close to 3 s
CLIENT_DEADLINE_S = 240  # for all 20 clients together (1.3 GiB served by a sanitizer build)


class Fetch(threading.Thread):
    def __init__(self, port, path, start_gate):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.start_gate = start_gate
        self.status = None
        self.digest = None
        self.length = 0
        self.first_byte_at = None
        self.error = None

    def run(self):
        try:
            self.start_gate.wait()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            conn.request("GET", self.path)
            resp = conn.getresponse()
            self.status = resp.status
            h = hashlib.sha256()
            while True:
                data = resp.read(64 * 1024)
                if not data:
                    break
                if self.first_byte_at is None:
                    self.first_byte_at = time.monotonic()
                h.update(data)
                self.length += len(data)
            self.digest = "sha256:" + h.hexdigest()
            conn.close()
        except Exception as e:  # reported by the test
            self.error = e


class SingleFlight(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.start_stack(which={"envs/big"})

    def test_twenty_clients_share_one_streamed_upstream_download(self):
        blob = self.images.big_layer
        self.assertGreater(blob.size, 64 << 20)
        self.upstream.throttle(blob.digest, UPSTREAM_RATE)
        path = "/v2/envs/big/blobs/%s" % blob.digest

        gate = threading.Event()
        fetches = [Fetch(self.cache.port, path, gate) for _ in range(CLIENTS)]
        for f in fetches:
            f.start()
        gate.set()
        deadline = time.monotonic() + CLIENT_DEADLINE_S
        for f in fetches:
            f.join(timeout=max(0.0, deadline - time.monotonic()))
        unfinished = [i for i, f in enumerate(fetches) if f.is_alive()]
        self.assertEqual(
            unfinished,
            [],
            "clients still receiving after %d s (bytes so far: %s)"
            % (CLIENT_DEADLINE_S, [fetches[i].length for i in unfinished]),
        )

        for i, f in enumerate(fetches):
            with self.subTest(client=i):
                self.assertIsNone(f.error)
                self.assertEqual(f.status, 200)
                self.assertEqual(f.length, blob.size)
                self.assertEqual(f.digest, blob.digest)

        self.assertEqual(self.upstream.blob_gets(blob.digest), 1)
        upstream_done = self.upstream.finished_at[path]
        first = min(f.first_byte_at for f in fetches)
        self.assertLess(
            first,
            upstream_done,
            "the first client's first byte came %.2f s after upstream finished sending"
            % (first - upstream_done),
        )

    def manifest_burst(self, path, clients):
        """`clients` GETs of `path` while the upstream's answer is held back, released once every
        client but the first has joined the first one's fetch. Returns their results."""
        self.upstream.hold(r"/manifests/")

        def coalesced():
            return self.stats()["upstreams"][self.cache.name]["coalesced"]

        results = [None] * clients

        def get(i):
            results[i] = self.cache.request("GET", path, timeout=120)

        threads = [threading.Thread(target=get, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        try:
            F.wait_until(lambda: self.upstream.held() >= 1, 60, "the first manifest GET upstream")
            F.wait_until(lambda: coalesced() >= clients - 1, 60, "every client joining the fetch")
        finally:
            self.upstream.release()
        for t in threads:
            t.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "a client is still waiting")
        return results

    def manifest_gets(self, repo):
        return [p for m, p in self.upstream.snapshot() if m == "GET" and p.startswith("/v2/%s/manifests/" % repo)]

    def test_clients_asking_for_one_uncached_manifest_share_one_upstream_get(self):
        image = self.images.big
        # By digest first: once stored, a manifest by digest is a hit. The tag has no record yet
        # after that, so by tag is still a miss.
        for reference in (image.manifest.digest, "v1"):
            with self.subTest(reference=reference):
                self.upstream.reset()
                results = self.manifest_burst("/v2/envs/big/manifests/%s" % reference, 8)
                for status, headers, body in results:
                    self.assertEqual(status, 200, body[:200])
                    self.assertEqual(headers.get("docker-content-digest"), image.manifest.digest)
                    self.assertEqual(F.sha256_digest(body), image.manifest.digest)
                self.assertEqual(len(self.manifest_gets("envs/big")), 1, self.upstream.snapshot())


if __name__ == "__main__":
    unittest.main()
