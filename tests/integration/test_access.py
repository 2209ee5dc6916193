"""Access control against real parts: Debian's docker-registry with htpasswd auth behind a
passthrough upstream, envcache's own htpasswd identities and rules, skopeo as the client.

The upstream decides who reads a passthrough upstream's content; cached bytes go only to callers
it said yes to, and no password or token shows up in a log or an error body.
"""

import base64
import os
import re
import subprocess
import tempfile
import time
import unittest

from fixtures import (
    CountingProxy,
    EnvcacheTestCase,
    Image,
    Registry,
    layout_blob_digests,
    make_layer,
    pull,
    push,
    require_tool,
    wait_until,
)

ALICE_PW = "alice-Upstream-pw-3141"
WRONG_PW = "not-alices-pw-2718"
BOB_PW = "bob-envcache-pw-1618"
CI_TOKEN = "ci-token-0a1b2c3d4e5f"
DECISION_TTL_S = 4


def htpasswd_file(path, users):
    exe = require_tool("htpasswd")
    if os.path.exists(path):
        os.remove(path)
    for i, (user, password) in enumerate(users):
        args = [exe, "-bB", "-C", "5"] + (["-c"] if i == 0 else []) + [path, user, password]
        subprocess.run(args, check=True, capture_output=True)


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def access_lines(log):
    """(method, path, status, bytes, outcome, user) of each access-log line."""
    out = []
    for line in log.splitlines():
        m = re.search(r"(GET|HEAD) (/\S*) (\d{3}) (\d+)B \d+ms (\S+)(?: aborted)?(?: user=(\S+))?$",
                      line)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), m.group(5),
                        m.group(6)))
    return out


class PassthroughTest(EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.htpasswd = os.path.join(self.workdir, "registry.htpasswd")
        htpasswd_file(self.htpasswd, [("alice", ALICE_PW)])
        self.registry = Registry(
            self.workdir, auth="{htpasswd: {realm: test-registry, path: %s}}" % self.htpasswd)
        self.addCleanup(self.registry.stop)
        self.registry.start()
        self._logs.append(("docker-registry", self.registry.log))
        self.image = Image([make_layer(701, 300 * 1024), make_layer(702, 64 * 1024)],
                           label="private")
        push(self.workdir, self.registry.hostport, "private/app", "1", self.image,
             creds="alice:" + ALICE_PW)
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(
            self.workdir, self.upstream.url,
            upstream_extra=", access: passthrough, decision_ttl: %ds, denial_ttl: 1s"
            % DECISION_TTL_S)
        self.bodies = []

    def get(self, path, authorization=None):
        headers = {"Authorization": authorization} if authorization else {}
        status, hdrs, body = self.cache.request("GET", path, headers=headers)
        if status >= 400:
            self.bodies.append(body)
        return status, hdrs, body

    def heads(self, repo):
        return [p for m, p in self.upstream.snapshot()
                if m == "HEAD" and p.startswith("/v2/%s/manifests/" % repo)]

    def test_only_callers_the_upstream_accepts_get_cached_content(self):
        out = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out, creds="alice:" + ALICE_PW)
        self.assertEqual(layout_blob_digests(out), {b.digest for b in self.image.all_blobs()})
        # One check for alice and the repository; the blobs belong to the manifest checked.
        self.assertEqual(len(self.heads("private/app")), 1)
        out2 = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out2, creds="alice:" + ALICE_PW)
        self.assertEqual(len(self.heads("private/app")), 1, "second pull within decision_ttl")

        refused_from = len(self.cache.log().splitlines())
        layer = self.image.layers[0].digest
        for who in (None, basic("alice", WRONG_PW)):
            for path in ("/v2/private/app/manifests/1", "/v2/private/app/blobs/" + layer,
                         "/v2/private/app/manifests/" + self.image.manifest.digest,
                         "/v2/private/app/tags/list"):
                status, hdrs, body = self.get(path, who)
                self.assertEqual(status, 401, "%s as %s" % (path, "anonymous" if who is None
                                                            else "wrong password"))
                self.assertIn("www-authenticate", hdrs)
                self.assertTrue(hdrs["www-authenticate"].startswith("Basic"))
        # skopeo without credentials, and with the wrong ones: refused.
        for creds in (None, "alice:" + WRONG_PW):
            proc = pull(self.cache.hostport, "private/app", "1",
                        tempfile.mkdtemp(dir=self.workdir), check=False, creds=creds)
            self.assertNotEqual(proc.returncode, 0)
            self.bodies.append(proc.stderr)
        lines = access_lines("\n".join(self.cache.log().splitlines()[refused_from:]))
        served = [l for l in lines if l[2] in (200, 206) and "/v2/private/" in l[1]]
        self.assertEqual(served, [], "cached content sent to a refused caller")

        # A digest of the private repository asked for through another repository: the
        # upstream does not have it there, so envcache does not serve it from its store.
        status, _, body = self.get("/v2/public/other/blobs/" + layer, basic("alice", ALICE_PW))
        self.assertEqual(status, 404)
        self.assertNotIn(self.image.layers[0].data[:64], body)

        # The allowed user still pulls; once revoked upstream, refused within decision_ttl.
        status, _, _ = self.get("/v2/private/app/blobs/" + layer, basic("alice", ALICE_PW))
        self.assertEqual(status, 200)
        revoked_at = time.monotonic()
        htpasswd_file(self.htpasswd, [("carol", "carol-pw-5772")])
        wait_until(lambda: self.get("/v2/private/app/manifests/1",
                                    basic("alice", ALICE_PW))[0] == 401,
                   DECISION_TTL_S + 5, "alice refused after the revocation")
        self.assertLess(time.monotonic() - revoked_at, DECISION_TTL_S + 2)
        status, _, _ = self.get("/v2/private/app/blobs/" + layer, basic("alice", ALICE_PW))
        self.assertEqual(status, 401, "a blob of the revoked repository")

        self.assert_no_secrets()

    def test_unreachable_upstream_fails_closed(self):
        out = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out, creds="alice:" + ALICE_PW)
        self.registry.stop()
        self.upstream.stop()
        # A new credential has no decision yet: nothing is served without the upstream's yes.
        status, _, _ = self.get("/v2/private/app/manifests/1", basic("alice", ALICE_PW + "x"))
        self.assertGreaterEqual(status, 500)
        wait_until(lambda: self.get("/v2/private/app/blobs/" + self.image.layers[0].digest,
                                    basic("alice", ALICE_PW))[0] >= 500,
                   DECISION_TTL_S + 5, "alice's decision expired and no upstream to ask")
        self.assert_no_secrets()

    def assert_no_secrets(self):
        log = self.cache.log() + self.registry.log()
        for secret in (ALICE_PW, WRONG_PW, basic("alice", ALICE_PW).split()[1],
                       basic("alice", WRONG_PW).split()[1]):
            self.assertNotIn(secret, log)
            for body in self.bodies:
                self.assertNotIn(secret.encode(), body)


class OwnIdentitiesTest(EnvcacheTestCase):
    """envcache's own users and rules in front of a shared upstream."""

    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)
        self.image = Image([make_layer(711, 128 * 1024)], label="team")
        push(self.workdir, self.registry.hostport, "team/app", "1", self.image)
        push(self.workdir, self.registry.hostport, "library/base", "1", self.image)
        self.upstream = self.start_proxy(self.registry)
        htpasswd = os.path.join(self.workdir, "envcache.htpasswd")
        htpasswd_file(htpasswd, [("bob", BOB_PW), ("eve", "eve-pw-1414")])
        tokens = os.path.join(self.workdir, "tokens")
        with open(tokens, "w") as f:
            f.write("ci %s\n" % CI_TOKEN)
        self.cache = self.start_envcache(
            self.workdir, self.upstream.url,
            extra="access:\n"
                  "  htpasswd_file: %s\n"
                  "  tokens_file: %s\n"
                  "  rules:\n"
                  "    - {who: anonymous, pull: {\"*\": [\"library/*\"]}}\n"
                  "    - {who: [bob, ci], pull: {upstream.test: [\"team/**\"]},"
                  " environments: read}\n" % (htpasswd, tokens))
        self.bodies = []

    def test_rules_decide_who_pulls_what(self):
        status, hdrs, _ = self.cache.request("GET", "/v2/")
        self.assertEqual(status, 401)
        self.assertIn('realm="http://%s/auth/token"' % self.cache.hostport,
                      hdrs["www-authenticate"])
        # skopeo follows the token flow with bob's password.
        out = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "team/app", "1", out, creds="bob:" + BOB_PW)
        self.assertEqual(layout_blob_digests(out), {b.digest for b in self.image.all_blobs()})
        # Anonymous callers get library/*, not team/*; eve (known, no rule) gets 403.
        anon = pull(self.cache.hostport, "team/app", "1", tempfile.mkdtemp(dir=self.workdir),
                    check=False)
        self.assertNotEqual(anon.returncode, 0)
        pull(self.cache.hostport, "library/base", "1", tempfile.mkdtemp(dir=self.workdir))
        for auth, want in ((None, 401), (basic("eve", "eve-pw-1414"), 403),
                           (basic("bob", "wrong-" + BOB_PW), 401),
                           ("Bearer " + CI_TOKEN, 200), (basic("bob", BOB_PW), 200)):
            headers = {"Authorization": auth} if auth else {}
            status, _, body = self.cache.request("GET", "/v2/team/app/manifests/1",
                                                 headers=headers)
            self.assertEqual(status, want, auth)
            self.bodies.append(body)
        # The environment API needs `read`: anonymous is refused, the CI token reads.
        status, _, _ = self.cache.request("GET", "/api/v1/environments")
        self.assertEqual(status, 401)
        status, _, _ = self.cache.request("GET", "/api/v1/environments",
                                          headers={"Authorization": "Bearer " + CI_TOKEN})
        self.assertNotIn(status, (401, 403))
        # The access log names the identity.
        users = {l[5] for l in access_lines(self.cache.log()) if "/team/app/" in l[1]}
        self.assertIn("bob", users)
        self.assertIn("ci", users)
        log = self.cache.log()
        for secret in (BOB_PW, CI_TOKEN, "eve-pw-1414"):
            self.assertNotIn(secret, log)
            for body in self.bodies:
                self.assertNotIn(secret.encode(), body)


if __name__ == "__main__":
    unittest.main()
