"""The hot tier under the real binary: small blobs served from memory (sendfile from a sealed
memfd, or inline) arrive byte for byte, whole, by range and as HEAD; a blob over
storage.hot.max_blob never enters; a blob the admin evicts leaves the tier and is fetched
from upstream again; the tier can be turned off."""

import json
import unittest

import fixtures as F


class HotTierCase(F.EnvcacheTestCase):
    def start(self, **envcache_kwargs):
        self.workdir = self.make_workdir()
        # A 40 KiB layer (a memfd), a 2 KiB one (inline) and a 3 MiB one (over max_blob).
        self.layers = [F.make_layer(700, 40 << 10), F.make_layer(701, 2 << 10),
                       F.make_layer(702, 3 << 20)]
        self.image = F.Image(self.layers, label="hot-tier")
        self.registry = self.start_registry(self.workdir)
        F.push(self.workdir, self.registry.hostport, "hot/tier", "v1", self.image)
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(self.workdir, self.upstream.url, **envcache_kwargs)

    def get(self, blob, headers=None, method="GET"):
        return self.cache.request(method, "/v2/hot/tier/blobs/" + blob.digest, headers)

    def hot(self):
        return self.stats()["hot"]

    def small_blobs(self):
        return [self.image.config] + self.layers[:2]


class ServedFromMemory(HotTierCase):
    def test_small_blobs_come_from_memory_whole_by_range_and_as_head(self):
        self.start()
        # The first request downloads each blob; the second is a hit from the store, after
        # which a copy is made in the background.
        stored_type = {}
        for _ in range(2):
            for blob in self.image.blobs():
                status, headers, body = self.get(blob)
                self.assertEqual((status, F.sha256_digest(body)), (200, blob.digest))
                stored_type[blob.digest] = headers.get("content-type")
        F.wait_until(lambda: self.hot()["blobs"] == 3, 30, "three blobs in the hot tier")
        hot = self.hot()
        self.assertEqual(hot["fills"], 3, hot)
        self.assertEqual(hot["bytes"], sum(len(b.data) for b in self.small_blobs()), hot)
        self.assertEqual(hot["files"], 1, hot)  # only the 40 KiB layer is over the inline size
        self.assertEqual(hot["hits"], 0, hot)
        hits_before = hot["hits"]
        served_before = self.stats()["hits"]
        gets_before = self.upstream.blob_gets()

        for blob in self.small_blobs():
            with self.subTest(blob=blob.digest, size=len(blob.data)):
                status, headers, body = self.get(blob)
                self.assertEqual(status, 200)
                self.assertEqual(body, blob.data)
                self.assertEqual(headers.get("docker-content-digest"), blob.digest)
                self.assertEqual(headers.get("content-length"), str(len(blob.data)))
                self.assertEqual(headers.get("content-type"), stored_type[blob.digest])

                status, headers, body = self.get(blob, {"Range": "bytes=10-109"})
                self.assertEqual(status, 206)
                self.assertEqual(body, blob.data[10:110])
                self.assertEqual(headers.get("content-range"), "bytes 10-109/%d" % len(blob.data))

                status, headers, body = self.get(blob, method="HEAD")
                self.assertEqual((status, body), (200, b""))
                self.assertEqual(headers.get("content-length"), str(len(blob.data)))

        self.assertEqual(self.hot()["hits"], hits_before + 9)
        # They count as hits like any other, and nothing went upstream.
        self.assertEqual(self.stats()["hits"], served_before + 9)
        self.assertEqual(self.upstream.blob_gets(), gets_before)

    def test_a_blob_the_admin_evicts_leaves_the_hot_tier_and_comes_from_upstream_again(self):
        self.start()
        layer = self.layers[0]
        for _ in range(2):  # a download, then a hit from the store
            status, _, _ = self.get(layer)
            self.assertEqual(status, 200)
        F.wait_until(lambda: self.hot()["blobs"] == 1, 30, "the layer in the hot tier")
        self.upstream.reset()

        status, _, body = self.cache.request(
            "POST", "/api/v1/admin/evict", {"Content-Type": "application/json"},
            json.dumps({"digest": layer.digest}).encode())
        self.assertEqual(status, 200, body)
        self.assertEqual(self.hot()["blobs"], 0)

        status, _, body = self.get(layer)
        self.assertEqual((status, body), (200, layer.data))
        self.assertEqual(self.upstream.blob_gets(), {layer.digest: 1})

    def test_with_the_tier_off_nothing_is_held_and_blobs_still_arrive(self):
        self.start(storage_extra=", hot: {max_size: 0}")
        for _ in range(2):
            for blob in self.small_blobs():
                status, _, body = self.get(blob)
                self.assertEqual((status, body), (200, blob.data))
        hot = self.hot()
        self.assertEqual((hot["blobs"], hot["fills"], hot["hits"], hot["max_bytes"]), (0, 0, 0, 0))


if __name__ == "__main__":
    unittest.main()
