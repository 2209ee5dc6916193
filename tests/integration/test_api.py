"""The pull API answered by envcache itself: Range, HEAD, tags/list, referrers, every error code,
push/delete refused, and hostile paths rejected before any upstream request."""

import json
import unittest

import fixtures as F


def error_codes(body):
    try:
        return [e.get("code") for e in json.loads(body)["errors"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ["<not OCI error JSON: %r>" % body[:200]]


class ApiTestCase(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.start_stack(which={"envs/app"})

    def get(self, path, headers=None):
        return self.cache.request("GET", path, headers)

    def assert_error(self, method, path, status, code, body=None):
        got_status, _headers, got_body = self.cache.request(method, path, body=body)
        self.assertEqual(got_status, status, "%s %s: %r" % (method, path, got_body[:300]))
        if code is not None:
            self.assertIn(code, error_codes(got_body), "%s %s" % (method, path))


class Ranges(ApiTestCase):
    def setUp(self):
        super().setUp()
        self.blob = self.images.app.layers[2]  # about 3 MiB: spans several store chunks
        self.assertGreater(self.blob.size, 2 * F.CHUNK_SIZE)
        self.path = "/v2/envs/app/blobs/%s" % self.blob.digest

    def check_range(self, spec, start, end):
        status, headers, body = self.get(self.path, {"Range": "bytes=" + spec})
        self.assertEqual(status, 206, spec)
        self.assertEqual(headers.get("content-range"), "bytes %d-%d/%d" % (start, end, self.blob.size), spec)
        self.assertEqual(int(headers.get("content-length")), end - start + 1, spec)
        self.assertEqual(body, self.blob.data[start : end + 1], spec)

    def all_ranges(self):
        size = self.blob.size
        c = F.CHUNK_SIZE
        self.check_range("0-0", 0, 0)
        self.check_range("%d-%d" % (c - 10, c + 19), c - 10, c + 19)  # across a chunk boundary
        self.check_range("%d-%d" % (c, c), c, c)  # first byte of the second chunk
        self.check_range("%d-%d" % (c - 1, 2 * c + 5), c - 1, 2 * c + 5)  # three chunks
        self.check_range("%d-" % (c + 3), c + 3, size - 1)  # open-ended
        self.check_range("-100", size - 100, size - 1)  # suffix
        self.check_range("%d-%d" % (size - 5, size + 1000), size - 5, size - 1)  # end past size
        status, headers, _ = self.get(self.path, {"Range": "bytes=%d-" % size})
        self.assertEqual(status, 416)
        if "content-range" in headers:
            self.assertEqual(headers["content-range"], "bytes */%d" % size)

    def test_ranges_of_a_cached_blob(self):
        status, _, body = self.get(self.path)
        self.assertEqual(status, 200)
        self.assertEqual(F.sha256_digest(body), self.blob.digest)
        self.upstream.reset()
        self.all_ranges()
        self.assertEqual(self.upstream.blob_gets(), {}, "ranges of a cached blob went upstream")

    def test_range_of_an_uncached_blob(self):
        self.check_range("%d-%d" % (F.CHUNK_SIZE - 10, F.CHUNK_SIZE + 19), F.CHUNK_SIZE - 10, F.CHUNK_SIZE + 19)
        self.all_ranges()


class HeadAndLists(ApiTestCase):
    def test_base_endpoint(self):
        status, headers, _ = self.get("/v2/")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("docker-distribution-api-version"), "registry/2.0")

    def check_head(self, path, blob, content_type):
        status, headers, body = self.cache.request("HEAD", path, {"Accept": F.MANIFEST_ACCEPT})
        self.assertEqual(status, 200, path)
        self.assertEqual(body, b"")
        self.assertEqual(int(headers.get("content-length", -1)), blob.size, path)
        self.assertEqual(headers.get("docker-content-digest"), blob.digest, path)
        if content_type:
            self.assertEqual(headers.get("content-type"), content_type, path)
        self.assertIn(blob.digest, headers.get("etag", ""), path)

    def test_head_of_manifests_and_blobs_before_and_after_caching(self):
        app = self.images.app
        for _round in ("uncached", "cached"):
            with self.subTest(round=_round):
                self.check_head("/v2/envs/app/manifests/1.0", app.manifest, F.OCI_MANIFEST)
                self.check_head("/v2/envs/app/manifests/%s" % app.manifest.digest, app.manifest, F.OCI_MANIFEST)
                self.check_head("/v2/envs/app/blobs/%s" % app.config.digest, app.config, None)
                self.check_head("/v2/envs/app/blobs/%s" % app.layers[0].digest, app.layers[0], None)
            for blob in (app.config, app.layers[0]):
                status, _, body = self.get("/v2/envs/app/blobs/%s" % blob.digest)
                self.assertEqual((status, F.sha256_digest(body)), (200, blob.digest))

    def test_tags_list_with_n_and_last(self):
        for tag in ("t1", "t2", "t3", "t4"):
            F.push(self.workdir, self.registry.hostport, "envs/tagged", tag, self.images.tools)
        status, _, body = self.get("/v2/envs/tagged/tags/list")
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual(doc["name"], "envs/tagged")
        self.assertEqual(sorted(doc["tags"]), ["t1", "t2", "t3", "t4"])
        # docker-registry 2.8 ignores n and last (and does not sort): envcache pages itself.
        status, headers, body = self.get("/v2/envs/tagged/tags/list?n=2")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["tags"], ["t1", "t2"])
        self.assertEqual(headers.get("link"), '</v2/envs/tagged/tags/list?n=2&last=t2>; rel="next"')
        status, headers, body = self.get("/v2/envs/tagged/tags/list?n=2&last=t2")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["tags"], ["t3", "t4"])
        # A full last page still links on; the page after it is empty and has no link.
        next_path = headers["link"].split(">")[0].lstrip("<")
        status, headers, body = self.get(next_path)
        self.assertEqual((status, json.loads(body)["tags"]), (200, []))
        self.assertNotIn("link", headers)

    def test_tags_list_next_link_keeps_the_upstream(self):
        for tag in ("t1", "t2", "t3"):
            F.push(self.workdir, self.registry.hostport, "envs/ns-tagged", tag, self.images.tools)
        # A containerd mirror names the upstream with ?ns=; the next page must go to it too.
        status, headers, body = self.get("/v2/envs/ns-tagged/tags/list?n=2&ns=%s" % self.cache.name)
        self.assertEqual((status, json.loads(body)["tags"]), (200, ["t1", "t2"]), body)
        link = headers.get("link", "")
        self.assertEqual(link, '</v2/envs/ns-tagged/tags/list?n=2&last=t2&ns=%s>; rel="next"' % self.cache.name)
        status, _, body = self.get(link.split(">")[0].lstrip("<"))
        self.assertEqual((status, json.loads(body)["tags"]), (200, ["t3"]), body)

    def test_each_request_is_logged_on_one_line(self):
        path = "/v2/envs/app/blobs/%s" % self.images.app.layers[1].digest
        for _ in range(2):
            status, _, _ = self.get(path)
            self.assertEqual(status, 200)

        def logged_lines():
            return [l for l in self.cache.log().splitlines() if path in l]

        F.wait_until(lambda: len(logged_lines()) >= 2, 10, "two log lines naming " + path)
        lines = logged_lines()
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertIn("GET", line)
            self.assertIn("200", line)

    def test_referrers_answers_an_image_index(self):
        status, headers, body = self.get("/v2/envs/app/referrers/%s" % self.images.app.manifest.digest)
        self.assertEqual(status, 200, body)
        self.assertTrue(headers.get("content-type", "").startswith(F.OCI_INDEX))
        doc = json.loads(body)
        self.assertEqual(doc.get("schemaVersion"), 2)
        self.assertIsInstance(doc.get("manifests"), list)


class Errors(ApiTestCase):
    def test_unknown_manifest_blob_and_namespace(self):
        self.assert_error("GET", "/v2/envs/app/manifests/no-such-tag", 404, "MANIFEST_UNKNOWN")
        self.assert_error("GET", "/v2/envs/app/manifests/sha256:" + "1" * 64, 404, "MANIFEST_UNKNOWN")
        self.assert_error("GET", "/v2/envs/app/blobs/sha256:" + "0" * 64, 404, "BLOB_UNKNOWN")
        self.upstream.reset()
        self.assert_error("GET", "/v2/envs/app/manifests/1.0?ns=nowhere.example", 404, "NAME_UNKNOWN")
        self.assertEqual(self.upstream.snapshot(), [], "an unknown ns reached the upstream")

    def test_push_and_delete_are_unsupported(self):
        digest = self.images.app.manifest.digest
        self.upstream.reset()
        for method, path, body in (
            ("PUT", "/v2/envs/app/manifests/new", self.images.app.manifest.data),
            ("POST", "/v2/envs/app/blobs/uploads/", b""),
            ("PATCH", "/v2/envs/app/blobs/uploads/0d5a1c6e-7f6b-4a57-9b47-4d7d2f1c9d11", b"xyz"),
            ("PUT", "/v2/envs/app/blobs/uploads/0d5a1c6e-7f6b-4a57-9b47-4d7d2f1c9d11?digest=" + digest, b""),
            ("DELETE", "/v2/envs/app/manifests/" + digest, None),
            ("DELETE", "/v2/envs/app/blobs/" + self.images.app.config.digest, None),
        ):
            with self.subTest(method=method, path=path):
                self.assert_error(method, path, 405, "UNSUPPORTED", body)
        self.assertEqual(self.upstream.snapshot(), [], "a push or delete reached the upstream")
        status, _, body = self.get("/v2/envs/app/manifests/1.0", {"Accept": F.MANIFEST_ACCEPT})
        self.assertEqual((status, body), (200, self.images.app.manifest.data))

    def test_invalid_names_and_digests_are_rejected_without_an_upstream_request(self):
        long_name = "/".join(["a" * 63] * 8)  # 511 characters
        cases = [
            ("/v2/Envs/App/manifests/1.0", "NAME_INVALID"),
            ("/v2/%s/manifests/latest" % long_name, "NAME_INVALID"),
            ("/v2/envs/app/blobs/sha256:abc", "DIGEST_INVALID"),
            ("/v2/envs/app/blobs/sha256:" + "A" * 64, "DIGEST_INVALID"),
            ("/v2/envs/app/blobs/sha256:" + "0" * 63 + "g", "DIGEST_INVALID"),
            ("/v2/envs/app/blobs/sha256:" + "0" * 65, "DIGEST_INVALID"),
            ("/v2/envs/app/blobs/not-a-digest", "DIGEST_INVALID"),
            ("/v2/envs/app/manifests/sha256:xyz", None),
        ]
        self.upstream.reset()
        for path, code in cases:
            with self.subTest(path=path):
                self.assert_error("GET", path, 400, code)
        self.assertEqual(self.upstream.snapshot(), [])

    def test_reads_of_tags_outside_the_grammar_are_unknown_without_an_upstream_request(self):
        self.upstream.reset()
        for tag in ("t" * 129, "-tag", ".INVALID_MANIFEST_NAME"):
            with self.subTest(tag=tag):
                self.assert_error("GET", "/v2/envs/app/manifests/" + tag, 404, "MANIFEST_UNKNOWN")
                status, _, _ = self.cache.request("HEAD", "/v2/envs/app/manifests/" + tag)
                self.assertEqual(status, 404)
        self.assertEqual(self.upstream.snapshot(), [])

    def test_hostile_paths_get_400_and_never_reach_the_upstream(self):
        digest = self.images.app.layers[0].digest
        paths = [
            "/v2/../v2/envs/app/manifests/1.0",
            "/v2/envs/../app/manifests/1.0",
            "/v2/envs/app/../app/manifests/1.0",
            "/v2/envs/%2e%2e/app/manifests/1.0",
            "/v2/envs/%2E%2E/%2E%2E/etc/manifests/1.0",
            "/v2/envs%2fapp/manifests/1.0",
            "/v2/envs/app%2F..%2F..%2Fx/manifests/1.0",
            "/v2/envs/app/manifests/..%2f..%2f1.0",
            "/v2/envs/app/blobs/sha256:..%2f..%2f" + digest[7:],
            "/v2/envs/app/blobs/%2e%2e/" + digest,
            "/v2/envs//app/manifests/1.0",
            "/v2/envs/app/manifests/1.0%00",
        ]
        self.upstream.reset()
        for path in paths:
            for method in ("GET", "HEAD"):
                with self.subTest(method=method, path=path):
                    status, _, body = self.cache.request(method, path)
                    self.assertEqual(status, 400, body[:300])
        self.assertEqual(self.upstream.snapshot(), [], "a hostile path reached the upstream")


if __name__ == "__main__":
    unittest.main()
