"""With a max_size smaller than the images, every pull through envcache still succeeds and the
evictor brings the store back within its limit."""

import unittest

import fixtures as F


class SmallStore(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        # The images hold about 72 MiB of unique blobs; the app image alone is over 4 MiB.
        self.start_stack(max_size="4MiB")

    def test_pulls_succeed_and_the_store_stays_within_max_size(self):
        self.pull_all("first")
        self.pull_all("second")

        def within_limit():
            s = self.stats()
            return s["used_bytes"] <= s["max_bytes"]

        # Eviction runs on the evictor's thread after inserts; wait for it to settle.
        F.wait_until(within_limit, 30, "store usage within max_size")
        stats = self.stats()
        self.assertEqual(stats["max_bytes"], 4 << 20)
        self.assertGreater(sum(stats["evictions"].values()), 0, stats)
        # Blobs were evicted, so the second round went upstream again for some of them.
        self.assertGreater(sum(self.upstream.blob_gets().values()), len(self.images.refs))

    def test_a_blob_larger_than_the_store_is_streamed_but_never_written(self):
        big = self.images.big_layer
        self.assertGreater(big.size, 4 << 20)
        for _ in range(2):
            status, _, body = self.cache.request("GET", "/v2/envs/big/blobs/%s" % big.digest, timeout=120)
            self.assertEqual((status, F.sha256_digest(body)), (200, big.digest))
        stats = self.stats()
        # Refused before any write (not a store error from a write that hit the map's end), and
        # nothing was evicted to make room it could never have.
        self.assertEqual(stats["reserve_refused"], 2, stats)
        self.assertEqual(stats["upstreams"][self.cache.name]["store_errors"], 0, stats)
        self.assertEqual(sum(stats["evictions"].values()), 0, stats)
        self.assertEqual(self.upstream.blob_gets(big.digest), 2)
        # The same figures for Prometheus.
        status, headers, body = self.cache.request("GET", "/api/v1/admin/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        lines = body.decode().splitlines()
        self.assertIn("envcache_reserve_refused_total 2", lines)
        self.assertIn('envcache_requests_total{upstream="%s",outcome="miss"} 2' % self.cache.name, lines)


if __name__ == "__main__":
    unittest.main()
