"""The cache core under the real binary: every hit reaches the eviction policy, no io thread
waits on the disk, and SIGTERM shuts down in order."""

import os
import subprocess
import threading
import time
import unittest

import fixtures as F


def images(prefix, count, seed, layer_sizes):
    """`count` images of fresh random layers, as (repo, tag, image)."""
    out = []
    for i in range(count):
        layers = [F.make_layer(seed + 10 * i + j, size) for j, size in enumerate(layer_sizes)]
        out.append(("%s/%d" % (prefix, i), "v1", F.Image(layers, label="%s-%d" % (prefix, i))))
    return out


class CacheCoreCase(F.EnvcacheTestCase):
    def start(self, refs, **envcache_kwargs):
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)
        for repo, tag, image in refs:
            F.push(self.workdir, self.registry.hostport, repo, tag, image)
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(self.workdir, self.upstream.url, **envcache_kwargs)

    def pull_and_check(self, repo, tag, image, name):
        out = os.path.join(self.workdir, "%s-%s" % (name, repo.replace("/", "_")))
        F.pull(self.cache.hostport, repo, tag, out)
        self.assertEqual(F.layout_top_digest(out), image.manifest.digest)
        self.assertEqual(F.layout_blob_digests(out), {b.digest for b in image.all_blobs()})


class HotImageUnderChurn(CacheCoreCase):
    def test_a_hot_image_keeps_its_manifest_and_layers_while_cold_images_pass_through(self):
        hot = images("hot", 1, 100, [2 << 20, 1 << 20])[0]
        cold = images("cold", 6, 200, [3 << 20, 2 << 20])
        # 30 MiB of cold images pass through a 12 MiB store; the hot one (3 MiB) is pulled
        # between every two of them. Its manifest is served from the in-memory manifest cache
        # after the first pull, so only hits that reach the policy from there keep it.
        self.start([hot] + cold, max_size="12MiB")
        repo, tag, image = hot
        self.pull_and_check(repo, tag, image, "hot-first")
        for i, (crepo, ctag, cimage) in enumerate(cold):
            self.pull_and_check(crepo, ctag, cimage, "cold-%d" % i)
            self.pull_and_check(repo, tag, image, "hot-%d" % i)
        stats = self.stats()
        self.assertGreater(stats["evictions"].get("watermark", 0) + stats["evictions"].get("reserve", 0), 0, stats)

        # Restarted on the same data, the hot image comes from the store alone.
        self._stop_envcache(self.cache)
        self.upstream.reset()
        self.cache = self.start_envcache(self.workdir, self.upstream.url, max_size="12MiB")
        self.pull_and_check(repo, tag, image, "hot-after-restart")
        gets = [(m, p) for m, p in self.upstream.snapshot() if m == "GET"]
        self.assertEqual(gets, [], "upstream GETs after the restart")


class ShutdownWithDownloads(CacheCoreCase):
    def test_sigterm_during_eight_cold_downloads_exits_0_within_the_grace_period(self):
        layers = [F.make_layer(300 + i, 2 << 20) for i in range(8)]
        image = F.Image(layers, label="slow")
        self.start([("slow/eight", "v1", image)])
        for layer in layers:
            self.upstream.throttle(layer.digest, 128 << 10)  # about 16 s each

        done = []

        def get(layer):
            try:
                status, _, body = self.cache.request(
                    "GET", "/v2/slow/eight/blobs/%s" % layer.digest, timeout=60)
                done.append((status, F.sha256_digest(body) == layer.digest))
            except Exception as e:  # the connection is closed at the end of the grace period
                done.append(("closed", repr(e)))

        clients = [threading.Thread(target=get, args=(l,), daemon=True) for l in layers]
        for c in clients:
            c.start()
        F.wait_until(lambda: len(self.upstream.blob_gets()) == 8, 30, "8 downloads upstream")
        self.assertEqual(done, [], "a download finished before SIGTERM")

        started = time.monotonic()
        code = self.cache.stop()
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, self.cache.log())
        self.assertLessEqual(elapsed, F.SHUTDOWN_GRACE_S + 1.0, self.cache.log())
        log = self.cache.log()
        self.assertNotIn("Sanitizer", log)
        self.assertIn("stopped", log)
        for c in clients:
            c.join(timeout=30)
        # No client got a complete body of a blob that was not verified.
        self.assertFalse([d for d in done if d[0] == 200 and not d[1]], done)

        # The store opens clean afterwards: nothing partial, every stored blob intact.
        verify = subprocess.run(
            [F.envcache_binary(), "verify", "--config", os.path.join(self.workdir, "envcache.yml")],
            capture_output=True, timeout=120)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)


class SlowStore(CacheCoreCase):
    def test_warm_hits_are_answered_while_every_commit_waits(self):
        warm = images("warm", 1, 400, [1 << 20, 200 << 10])[0]
        cold = images("cold", 1, 500, [6 << 20])[0]
        gate = None
        self.workdir = self.make_workdir()
        gate = os.path.join(self.workdir, "commit-gate")
        os.environ["ENVCACHE_TEST_COMMIT_GATE"] = gate
        os.environ["ENVCACHE_TEST_COMMIT_DELAY_MS"] = "200"
        try:
            self.registry = self.start_registry(self.workdir)
            for repo, tag, image in (warm, cold):
                F.push(self.workdir, self.registry.hostport, repo, tag, image)
            self.upstream = self.start_proxy(self.registry)
            # One io thread: with any store call on it, nothing else would be answered.
            self.cache = self.start_envcache(self.workdir, self.upstream.url, extra="threads: 1\n")
        finally:
            del os.environ["ENVCACHE_TEST_COMMIT_GATE"]
            del os.environ["ENVCACHE_TEST_COMMIT_DELAY_MS"]
        wrepo, wtag, wimage = warm
        self.pull_and_check(wrepo, wtag, wimage, "warm")

        # From here every commit waits at the gate: the cold blob's download cannot finish.
        with open(gate, "w"):
            pass
        crepo, _, cimage = cold
        layer = cimage.layers[0]
        result = []

        def cold_get():
            status, _, body = self.cache.request(
                "GET", "/v2/%s/blobs/%s" % (crepo, layer.digest), timeout=120)
            result.append((status, F.sha256_digest(body)))

        getter = threading.Thread(target=cold_get, daemon=True)
        getter.start()
        F.wait_until(lambda: self.upstream.blob_gets(layer.digest) == 1, 30, "the cold download")

        for _ in range(20):
            status, headers, body = self.cache.request(
                "GET", "/v2/%s/manifests/%s" % (wrepo, wtag),
                headers={"Accept": F.MANIFEST_ACCEPT}, timeout=10)
            self.assertEqual((status, headers.get("docker-content-digest")),
                             (200, wimage.manifest.digest))
            for blob in wimage.blobs():
                status, _, body = self.cache.request(
                    "GET", "/v2/%s/blobs/%s" % (wrepo, blob.digest), timeout=10)
                self.assertEqual((status, F.sha256_digest(body)), (200, blob.digest))
        # All of that while the cold download was still held at the gate.
        self.assertTrue(getter.is_alive())
        self.assertEqual(result, [])

        os.unlink(gate)
        getter.join(timeout=120)
        self.assertEqual(result, [(200, layer.digest)])


if __name__ == "__main__":
    unittest.main()
