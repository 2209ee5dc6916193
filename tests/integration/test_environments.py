"""Environments end to end: a spec's base image is resolved through envcache's upstream, resolve
misses, the built image (its own layers on top of the base) is pushed to the upstream and
registered for the hash, resolve then hits, and skopeo pulls environments/<hash>:latest through
envcache with the built image's digests."""

import json
import os
import unittest

import fixtures as F

UPSTREAM = "upstream.test"  # the envcache upstream name (fixtures.Envcache default)


def error_codes(body):
    try:
        return [e.get("code") for e in json.loads(body)["errors"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ["<not OCI error JSON: %r>" % body[:200]]


class EnvironmentsEndToEnd(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)
        # The base image and the image a builder made from it: the base's layer plus its own.
        base_layer = F.make_layer(101, 200 << 10, name="base/os-release")
        self.base = F.Image([base_layer], label="env-base")
        self.built = F.Image(
            [base_layer, F.make_layer(102, 600 << 10, name="envs/train/site-packages")],
            label="env-built",
        )
        F.push(self.workdir, self.registry.hostport, "base/os", "1", self.base)
        F.push(self.workdir, self.registry.hostport, "team/train", "1", self.built)
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(self.workdir, self.upstream.url)
        self.bundle = {
            "environment": "name: train\nimage: %s/base/os:1\n" % UPSTREAM,
            "requirements": "requests==2.32.3\nnumpy==1.26.4\n",
        }

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        status, _headers, out = self.cache.request(method, path, headers, data)
        try:
            return status, json.loads(out)
        except ValueError:
            return status, {"raw": out[:500].decode(errors="replace")}

    def test_resolve_register_hit_and_pull_by_hash(self):
        status, miss = self.call("POST", "/api/v1/environments/resolve", self.bundle)
        self.assertEqual(status, 200, miss)
        env_hash = miss["hash"]
        self.assertRegex(env_hash, r"^[0-9a-f]{64}$")
        self.assertEqual(miss["base"]["digest"], self.base.manifest.digest)
        self.assertIsNone(miss["image"])

        # Not built yet: pulling by hash says so.
        status, _h, body = self.cache.request(
            "GET", "/v2/environments/%s/manifests/latest" % env_hash, {"Accept": F.MANIFEST_ACCEPT}
        )
        self.assertEqual(status, 404, body[:300])
        self.assertIn("MANIFEST_UNKNOWN", error_codes(body))
        self.assertIn(b"has not been built", body)

        status, put = self.call(
            "PUT",
            "/api/v1/environments/by-hash/%s" % env_hash,
            {"image": "%s/team/train:1" % UPSTREAM},
        )
        self.assertEqual(status, 201, put)
        self.assertEqual(put["image"]["digest"], self.built.manifest.digest)

        status, hit = self.call("POST", "/api/v1/environments/resolve", self.bundle)
        self.assertEqual(status, 200, hit)
        self.assertEqual(hit["hash"], env_hash)
        self.assertEqual(hit["image"]["digest"], self.built.manifest.digest)

        out = os.path.join(self.workdir, "pulled")
        F.pull(self.cache.hostport, "environments/%s" % env_hash, "latest", out)
        self.assertEqual(F.layout_top_digest(out), self.built.manifest.digest)
        self.assertEqual(F.layout_blob_digests(out), {b.digest for b in self.built.all_blobs()})

        # A second pull is served from the store.
        self.upstream.reset()
        F.pull(self.cache.hostport, "environments/%s" % env_hash, "latest", out + "-again")
        self.assertEqual(self.upstream.blob_gets(), {})

    def test_named_versions_are_immutable_and_export_their_files(self):
        path = "/api/v1/environments/train/versions/1"
        status, created = self.call("PUT", path, self.bundle)
        self.assertEqual(status, 201, created)
        status, same = self.call("PUT", path, self.bundle)
        self.assertEqual(status, 200, same)
        self.assertEqual(same["hash"], created["hash"])

        other = dict(self.bundle, requirements="requests==2.32.2\n")
        status, conflict = self.call("PUT", path, other)
        self.assertEqual(status, 409, conflict)
        self.assertIn("CONFLICT", [e["code"] for e in conflict["errors"]])

        status, denied = self.call("PUT", "/api/v1/environments/AzureML-x/versions/1", self.bundle)
        self.assertEqual(status, 403, denied)

        status, latest = self.call("GET", "/api/v1/environments/train/versions/latest")
        self.assertEqual(status, 200, latest)
        self.assertEqual(latest["hash"], created["hash"])

        status, exported = self.call("GET", path + "/export")
        self.assertEqual(status, 200, exported)
        self.assertEqual(exported["bundle"]["environment"], self.bundle["environment"])
        self.assertEqual(exported["bundle"]["requirements"], self.bundle["requirements"])

    def test_malformed_spec_is_rejected_with_its_line(self):
        bad = {"environment": "name: x\nimage: %s/base/os:1\n  bad: indent\n" % UPSTREAM}
        status, body = self.call("PUT", "/api/v1/environments/x/versions/1", bad)
        self.assertEqual(status, 400, body)
        self.assertEqual(body["errors"][0]["code"], "SPEC_INVALID")
        self.assertEqual(body["errors"][0]["detail"]["line"], 3)
        status, _ = self.call("GET", "/api/v1/environments/x/versions/1")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
