"""When the upstream fails: a stopped upstream leaves cached images pullable (stale tags are
served), and a corrupted blob reaches no client whole and is never stored."""

import hashlib
import http.client
import os
import time
import unittest

import fixtures as F


def fetch_blob(port, path):
    """GET the blob; returns (status, bytes received, sha256 digest, error or None)."""
    h = hashlib.sha256()
    received = 0
    status = None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        status = resp.status
        while True:
            data = resp.read(64 * 1024)
            if not data:
                break
            h.update(data)
            received += len(data)
        return status, received, "sha256:" + h.hexdigest(), None
    except (OSError, http.client.HTTPException) as e:
        return status, received, "sha256:" + h.hexdigest(), e
    finally:
        conn.close()


class UpstreamStopped(F.EnvcacheTestCase):
    TAG_TTL_S = 1

    def setUp(self):
        super().setUp()
        self.start_stack(which={"envs/app", "envs/multi", "envs/tools"}, tag_ttl="%ds" % self.TAG_TTL_S)

    def pull_and_check(self, name, repo, tag, obj):
        out = os.path.join(self.workdir, name)
        F.pull(self.cache.hostport, repo, tag, out, all_platforms=isinstance(obj, F.Index))
        self.assertEqual(F.layout_top_digest(out), obj.manifest.digest)
        self.assertEqual(F.layout_blob_digests(out), {b.digest for b in obj.all_blobs()})

    def test_cached_images_still_pull_with_stale_tags_when_upstream_is_gone(self):
        cached = [("envs/app", "1.0", self.images.app), ("envs/multi", "latest", self.images.multi)]
        for repo, tag, obj in cached:
            self.pull_and_check("online-" + repo.replace("/", "_"), repo, tag, obj)
        fetched_at = time.monotonic()

        self.upstream.stop()
        self.registry.stop()
        # The tags must be stale, so envcache has to ask the (gone) upstream before serving them.
        remaining = fetched_at + self.TAG_TTL_S + 0.2 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)  # waiting out the tag TTL on the clock, not synchronising

        for repo, tag, obj in cached:
            with self.subTest(image=repo):
                self.pull_and_check("offline-" + repo.replace("/", "_"), repo, tag, obj)
        status, headers, body = self.cache.request(
            "GET", "/v2/envs/app/manifests/1.0", {"Accept": F.MANIFEST_ACCEPT}
        )
        self.assertEqual((status, body), (200, self.images.app.manifest.data))

        # Never cached, upstream gone: an error answer, not a hang and not a success.
        status, _, _ = self.cache.request("GET", "/v2/envs/tools/manifests/2.0", {"Accept": F.MANIFEST_ACCEPT})
        self.assertGreaterEqual(status, 400)
        status, _, _ = self.cache.request("GET", "/v2/envs/tools/blobs/%s" % self.images.tools.layers[2].digest)
        self.assertGreaterEqual(status, 400)


class CorruptedBlob(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.start_stack(which={"envs/app"})

    def assert_not_served_whole(self, blob, path):
        status, received, digest, error = fetch_blob(self.cache.port, path)
        if status == 200 and error is None and received == blob.size:
            self.fail(
                "the client got a complete 200 response of a corrupted blob "
                "(digest %s); its connection should have been aborted" % digest
            )
        self.assertNotEqual(digest if received == blob.size else None, blob.digest)

    def test_a_corrupted_blob_is_refused_to_clients_and_never_stored(self):
        blob = self.images.app.layers[2]
        path = "/v2/envs/app/blobs/%s" % blob.digest
        self.upstream.corrupt(blob.digest)

        self.assert_not_served_whole(blob, path)
        first = self.upstream.blob_gets(blob.digest)
        self.assertGreaterEqual(first, 1)
        # Asked again: it was not kept, so envcache goes upstream again (and fails again).
        self.assert_not_served_whole(blob, path)
        second = self.upstream.blob_gets(blob.digest)
        self.assertGreater(second, first)
        # A real client: skopeo's pull of the image fails.
        proc = F.pull(self.cache.hostport, "envs/app", "1.0", os.path.join(self.workdir, "bad"), check=False)
        self.assertNotEqual(proc.returncode, 0, "skopeo pulled an image whose layer was corrupted")
        third = self.upstream.blob_gets(blob.digest)
        self.assertGreater(third, second)

        self.upstream.corrupt(blob.digest, on=False)
        status, received, digest, error = fetch_blob(self.cache.port, path)
        self.assertEqual((status, error, received, digest), (200, None, blob.size, blob.digest))
        self.assertEqual(self.upstream.blob_gets(blob.digest), third + 1)

        # Now stored: served without the upstream, and the right bytes.
        status, received, digest, error = fetch_blob(self.cache.port, path)
        self.assertEqual((status, error, received, digest), (200, None, blob.size, blob.digest))
        self.assertEqual(self.upstream.blob_gets(blob.digest), third + 1)
        out = os.path.join(self.workdir, "good")
        F.pull(self.cache.hostport, "envs/app", "1.0", out)
        self.assertEqual(F.layout_blob_digests(out), {b.digest for b in self.images.app.all_blobs()})


if __name__ == "__main__":
    unittest.main()
