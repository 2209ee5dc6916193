"""skopeo pulls every test image through envcache: digests match the originals, the first pull
fetches each unique blob from upstream exactly once, and a second pull fetches none."""

import unittest

import fixtures as F


class PullThroughEnvcache(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.start_stack()

    def unique_blobs(self):
        digests = set()
        for _repo, _tag, obj in self.images.refs:
            for blob in obj.blobs():
                if blob.media_type != F.OCI_MANIFEST:
                    digests.add(blob.digest)
        return digests

    def test_first_pull_fetches_each_unique_blob_once_and_second_pull_fetches_none(self):
        self.pull_all("first")
        # Layers shared between repositories (envs/app, envs/tools, envs/multi) count once.
        self.assertEqual(self.upstream.blob_gets(), {d: 1 for d in self.unique_blobs()})

        self.upstream.reset()
        self.pull_all("second")
        self.assertEqual(self.upstream.blob_gets(), {})

    def test_manifests_served_match_the_originals_byte_for_byte(self):
        for repo, tag, obj in self.images.refs:
            for ref in (tag, obj.manifest.digest):
                status, headers, body = self.cache.request(
                    "GET", "/v2/%s/manifests/%s" % (repo, ref), {"Accept": F.MANIFEST_ACCEPT}
                )
                with self.subTest(repo=repo, ref=ref):
                    self.assertEqual(status, 200)
                    self.assertEqual(body, obj.manifest.data)
                    self.assertEqual(headers.get("docker-content-digest"), obj.manifest.digest)
                    self.assertEqual(headers.get("content-type"), obj.manifest.media_type)


if __name__ == "__main__":
    unittest.main()
