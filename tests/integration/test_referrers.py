"""Referrers and OCI 1.1 artifacts through envcache, against docker-registry (no referrers API).

Each test pushes, to the test upstream, an image, a signature and an SBOM artifact manifest
(`artifactType`, `subject`, the empty config) and the index the referrers tag schema keeps under
`sha256-<hex of the image digest>`, as signing tools do on a registry without the referrers API.
"""

import json
import os

import fixtures as F

EMPTY_CONFIG = F.Blob(b"{}", "application/vnd.oci.empty.v1+json")
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"


def put_blob(port, repo, blob):
    status, headers, body = F.http_request(port, "POST", "/v2/%s/blobs/uploads/" % repo)
    assert status == 202, (status, body)
    location = headers["location"]
    if location.startswith("http"):
        location = "/" + location.split("/", 3)[3]
    sep = "&" if "?" in location else "?"
    status, _, body = F.http_request(
        port, "PUT", location + sep + "digest=" + blob.digest,
        {"Content-Type": "application/octet-stream"}, blob.data,
    )
    assert status == 201, (status, body)


def put_manifest(port, repo, reference, manifest):
    status, _, body = F.http_request(
        port, "PUT", "/v2/%s/manifests/%s" % (repo, reference),
        {"Content-Type": manifest.media_type}, manifest.data,
    )
    assert status == 201, (status, body)


class Artifact:
    """An OCI 1.1 artifact manifest: artifactType, the empty config, one layer, a subject."""

    def __init__(self, subject, artifact_type, payload):
        self.layer = F.Blob(payload, artifact_type)
        manifest = {
            "schemaVersion": 2,
            "mediaType": F.OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": EMPTY_CONFIG.descriptor(),
            "layers": [self.layer.descriptor()],
            "subject": subject.descriptor(),
            "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        }
        self.manifest = F.Blob(json.dumps(manifest).encode(), F.OCI_MANIFEST)
        self.artifact_type = artifact_type

    def descriptor(self):
        return self.manifest.descriptor(artifactType=self.artifact_type)


class SignedImage:
    """An image pushed with skopeo, and its signature and SBOM listed by the referrers tag."""

    def __init__(self, test, repo, seed):
        self.repo = repo
        self.image = F.Image([F.make_layer(seed, 64 << 10)], label=repo)
        F.push(test.workdir, test.registry.hostport, repo, "1.0", self.image)
        self.signature = Artifact(self.image.manifest, SIGNATURE_TYPE, b"signature of %d" % seed)
        self.sbom = Artifact(self.image.manifest, SBOM_TYPE, b'{"sbom": %d}' % seed)
        port = test.registry.port
        put_blob(port, repo, EMPTY_CONFIG)
        for artifact in (self.signature, self.sbom):
            put_blob(port, repo, artifact.layer)
            put_manifest(port, repo, artifact.manifest.digest, artifact.manifest)
        fallback = {
            "schemaVersion": 2,
            "mediaType": F.OCI_INDEX,
            "manifests": [self.signature.descriptor(), self.sbom.descriptor()],
        }
        self.fallback = F.Blob(json.dumps(fallback).encode(), F.OCI_INDEX)
        put_manifest(port, repo, self.fallback_tag, self.fallback)

    @property
    def digest(self):
        return self.image.manifest.digest

    @property
    def fallback_tag(self):
        return self.digest.replace(":", "-")


class Referrers(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)

    def referrers(self, repo, digest, artifact_type=None):
        path = "/v2/%s/referrers/%s" % (repo, digest)
        if artifact_type:
            path += "?artifactType=" + artifact_type.replace("+", "%2B")
        status, headers, body = self.cache.request("GET", path)
        return status, headers, body

    def listed(self, repo, digest, artifact_type=None):
        status, headers, body = self.referrers(repo, digest, artifact_type)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["content-type"], F.OCI_INDEX)
        index = json.loads(body)
        self.assertEqual((index["schemaVersion"], index["mediaType"]), (2, F.OCI_INDEX))
        return headers, {(m["digest"], m.get("artifactType")) for m in index["manifests"]}

    def test_the_referrers_api_lists_what_the_referrers_tag_holds_with_and_without_a_filter(self):
        signed = SignedImage(self, "signed/app", 31)
        # The upstream really has no referrers API: the fallback is envcache's.
        status, _, _ = F.http_request(self.registry.port, "GET",
                                      "/v2/signed/app/referrers/" + signed.digest)
        self.assertEqual(status, 404)
        self.cache = self.start_envcache(self.workdir, "http://" + self.registry.hostport)

        headers, listed = self.listed("signed/app", signed.digest)
        self.assertEqual(listed, {(signed.signature.manifest.digest, SIGNATURE_TYPE),
                                  (signed.sbom.manifest.digest, SBOM_TYPE)})
        self.assertNotIn("oci-filters-applied", headers)

        headers, listed = self.listed("signed/app", signed.digest, SIGNATURE_TYPE)
        self.assertEqual(listed, {(signed.signature.manifest.digest, SIGNATURE_TYPE)})
        self.assertEqual(headers.get("oci-filters-applied"), "artifactType")
        headers, listed = self.listed("signed/app", signed.digest, "application/vnd.none")
        self.assertEqual(listed, set())
        self.assertEqual(headers.get("oci-filters-applied"), "artifactType")

        # A digest nothing refers to: an empty index, not an error.
        _, listed = self.listed("signed/app", "sha256:" + "5" * 64)
        self.assertEqual(listed, set())

    def test_an_upstream_referrers_answer_is_cached_for_the_tag_ttl_and_filtered_here(self):
        signed = SignedImage(self, "signed/app", 35)
        # The upstream's referrers API knows an attestation the referrers tag does not list.
        attestation = Artifact(signed.image.manifest, "application/vnd.example.attestation",
                               b"attested")
        answer = {
            "schemaVersion": 2,
            "mediaType": F.OCI_INDEX,
            "manifests": [signed.signature.descriptor(), attestation.descriptor()],
        }
        upstream = self.start_proxy(self.registry)
        upstream.answer(r"/referrers/", 200, F.OCI_INDEX, json.dumps(answer).encode())
        self.cache = self.start_envcache(self.workdir, upstream.url)
        upstream.reset()

        _, listed = self.listed("signed/app", signed.digest)
        self.assertEqual(listed, {(signed.signature.manifest.digest, SIGNATURE_TYPE),
                                  (attestation.manifest.digest, attestation.artifact_type)})
        headers, listed = self.listed("signed/app", signed.digest, attestation.artifact_type)
        self.assertEqual(listed, {(attestation.manifest.digest, attestation.artifact_type)})
        self.assertEqual(headers.get("oci-filters-applied"), "artifactType")
        # One unfiltered request upstream answered both (the tag TTL is 5 minutes), and the
        # referrers tag was never needed.
        self.assertEqual(upstream.snapshot(),
                         [("GET", "/v2/signed/app/referrers/" + signed.digest)])

    def test_artifacts_pull_through_by_digest_and_stay_cached(self):
        signed = SignedImage(self, "signed/app", 32)
        self.cache = self.start_envcache(self.workdir, "http://" + self.registry.hostport)
        artifact = signed.signature
        for _round in ("from the upstream", "from the store"):
            with self.subTest(round=_round):
                status, headers, body = self.cache.request(
                    "GET", "/v2/signed/app/manifests/" + artifact.manifest.digest,
                    {"Accept": F.MANIFEST_ACCEPT})
                self.assertEqual((status, body), (200, artifact.manifest.data))
                self.assertEqual(headers["docker-content-digest"], artifact.manifest.digest)
                self.assertEqual(headers["content-type"], F.OCI_MANIFEST)
                for blob in (EMPTY_CONFIG, artifact.layer):
                    status, _, body = self.cache.request(
                        "GET", "/v2/signed/app/blobs/" + blob.digest)
                    self.assertEqual((status, body), (200, blob.data))
                # The referrers tag itself pulls through too (clients of the tag schema).
                status, _, body = self.cache.request(
                    "GET", "/v2/signed/app/manifests/" + signed.fallback_tag,
                    {"Accept": F.OCI_INDEX})
                self.assertEqual((status, body), (200, signed.fallback.data))
            if _round == "from the upstream":
                self.registry.stop()

    def test_a_pinned_images_referrers_are_kept_and_listed_with_the_upstream_stopped(self):
        pinned = SignedImage(self, "signed/app", 33)
        unpinned = SignedImage(self, "signed/other", 34)
        # tag_ttl 0: every listing asks the upstream, so the last one is the offline answer.
        self.cache = self.start_envcache(self.workdir, "http://" + self.registry.hostport,
                                         tag_ttl="0s")
        status, _, body = self.cache.request(
            "POST", "/api/v1/admin/pins", {"Content-Type": "application/json"},
            json.dumps({"pin": "upstream.test/signed/app:1.0"}).encode())
        self.assertIn(status, (200, 201), body)
        for signed in (pinned, unpinned):
            out = os.path.join(self.workdir, "pulled-" + signed.repo.replace("/", "_"))
            F.pull(self.cache.hostport, signed.repo, "1.0", out)
            _, listed = self.listed(signed.repo, signed.digest)
            self.assertEqual(len(listed), 2)
            # A verifier fetches the signature it found.
            status, _, _ = self.cache.request(
                "GET", "/v2/%s/manifests/%s" % (signed.repo, signed.signature.manifest.digest),
                {"Accept": F.MANIFEST_ACCEPT})
            self.assertEqual(status, 200)
            status, _, _ = self.cache.request(
                "GET", "/v2/%s/blobs/%s" % (signed.repo, signed.signature.layer.digest))
            self.assertEqual(status, 200)

        # The pin protects the signature manifest and its blob, not only the image.
        for digest in (pinned.signature.manifest.digest, pinned.signature.layer.digest):
            status, _, body = self.cache.request(
                "POST", "/api/v1/admin/evict", {"Content-Type": "application/json"},
                json.dumps({"digest": digest}).encode())
            self.assertEqual(status, 409, body)
            self.assertIn(b"pin", body)
        # Evict everything the pins allow.
        status, _, body = self.cache.request(
            "POST", "/api/v1/admin/evict", {"Content-Type": "application/json"},
            json.dumps({"target_size": "0"}).encode())
        self.assertEqual(status, 200, body)
        removed = {r["digest"] for r in json.loads(body)["removed"]}
        self.assertIn(unpinned.signature.manifest.digest, removed)
        self.assertNotIn(pinned.signature.manifest.digest, removed)

        self.registry.stop()
        _, listed = self.listed("signed/app", pinned.digest)
        self.assertEqual(listed, {(pinned.signature.manifest.digest, SIGNATURE_TYPE),
                                  (pinned.sbom.manifest.digest, SBOM_TYPE)})
        _, listed = self.listed("signed/app", pinned.digest, SIGNATURE_TYPE)
        self.assertEqual(listed, {(pinned.signature.manifest.digest, SIGNATURE_TYPE)})
        status, _, body = self.cache.request(
            "GET", "/v2/signed/app/manifests/" + pinned.signature.manifest.digest,
            {"Accept": F.MANIFEST_ACCEPT})
        self.assertEqual((status, body), (200, pinned.signature.manifest.data))
        status, _, body = self.cache.request(
            "GET", "/v2/signed/app/blobs/" + pinned.signature.layer.digest)
        self.assertEqual((status, body), (200, pinned.signature.layer.data))
        # The unpinned image's answer was evicted: offline, an error rather than an empty
        # index that would say "unsigned".
        status, _, body = self.referrers("signed/other", unpinned.digest)
        self.assertEqual(status, 502, body)


if __name__ == "__main__":
    import unittest

    unittest.main()
