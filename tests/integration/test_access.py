"""Access control against real parts: Debian's docker-registry with htpasswd auth behind a
passthrough upstream, envcache's own htpasswd identities and rules, skopeo as the client.

The upstream decides who reads a passthrough upstream's content; cached bytes go only to callers
it said yes to, and no password or token shows up in a log or an error body.
"""

import base64
import fnmatch
import http.client
import http.server
import json
import os
import re
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

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
        # A shared upstream beside it: envcache's own (no) credentials, which the registry
        # refuses, so the private content is not "there too" through its path.
        self.envcache_options = dict(
            upstream_extra=", access: passthrough, decision_ttl: %ds, denial_ttl: 1s"
            % DECISION_TTL_S,
            more_upstreams="  - {name: shared.test, url: \"%s\"}\n" % self.upstream.url)
        self.cache = self.start_envcache(self.workdir, self.upstream.url, **self.envcache_options)
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

        refused_from = len(self.cache.logged().splitlines())
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
        lines = access_lines("\n".join(self.cache.logged().splitlines()[refused_from:]))
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

    def test_a_private_digest_stays_guarded_across_a_restart(self):
        out = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out, creds="alice:" + ALICE_PW)
        layer = self.image.layers[0]
        asks = [("/v2/shared.test/private/app/blobs/" + layer.digest, None),
                ("/v2/shared.test/private/app/manifests/" + self.image.manifest.digest, None),
                ("/v2/public/other/blobs/" + layer.digest, basic("alice", ALICE_PW))]

        def assert_not_served(when):
            for path, who in asks:
                status, _, body = self.get(path, who)
                self.assertEqual(status, 404, "%s %s" % (path, when))
                self.assertNotIn(layer.data[:64], body)

        assert_not_served("before the restart")
        self.assertEqual(self.cache.stop(), 0)
        self.cache = self.start_envcache(self.workdir, self.upstream.url, **self.envcache_options)
        assert_not_served("after the restart")
        out2 = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out2, creds="alice:" + ALICE_PW)
        self.assertEqual(layout_blob_digests(out2), {b.digest for b in self.image.all_blobs()})
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
        log = self.cache.logged() + self.registry.log()
        for secret in (ALICE_PW, WRONG_PW, basic("alice", ALICE_PW).split()[1],
                       basic("alice", WRONG_PW).split()[1]):
            self.assertNotIn(secret, log)
            for body in self.bodies:
                self.assertNotIn(secret.encode(), body)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The registry's token server: Basic-authenticated users get RS256 JWTs (the chain in x5c)
    granting the repositories their globs allow, signed with the openssl CLI."""

    def __init__(self, workdir, users, ttl_s):
        self.users = users  # name -> (password, [fnmatch globs])
        self.ttl_s = ttl_s
        self.key = os.path.join(workdir, "token.key")
        self.cert = os.path.join(workdir, "token.crt")
        subprocess.run([require_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key, "-out", self.cert, "-subj", "/CN=test-token-issuer",
                        "-days", "1"], check=True, capture_output=True)
        der = subprocess.run([require_tool("openssl"), "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.issued = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if name in server.users and server.users[name][0] == password:
                        user = name
                if auth and user is None:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    globs = server.users[user][1] if user else []
                    if kind == "repository" and any(fnmatch.fnmatch(name, g) for g in globs):
                        access.append({"type": "repository", "name": name,
                                       "actions": [a for a in actions.split(",")
                                                   if a in ("pull", "push")]})
                token = server.sign(user or "", query.get("service", [""])[0], access)
                server.issued.append(token)
                body = json.dumps({"token": token, "expires_in": server.ttl_s}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.port

    def sign(self, subject, service, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": "test-issuer", "sub": subject, "aud": service, "exp": now + self.ttl_s,
                  "nbf": now - 5, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        signature = subprocess.run([require_tool("openssl"), "dgst", "-sha256", "-sign", self.key],
                                   input=signing_input.encode(), check=True,
                                   capture_output=True).stdout
        return signing_input + "." + b64url(signature)

    def token(self, user, password, scope):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/token?service=test-registry&scope=" + scope,
                         headers={"Authorization": basic(user, password)})
            resp = conn.getresponse()
            return json.loads(resp.read())["token"]
        finally:
            conn.close()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TokenAuthPassthroughTest(EnvcacheTestCase):
    """A registry with token auth: alice may read private/* and public/*, bob only public/*."""

    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.tokens = TokenServer(self.workdir, {
            "alice": (ALICE_PW, ["private/*", "public/*"]),
            "bob": (BOB_PW, ["public/*"]),
            "pusher": ("pusher-pw-1732", ["*"]),
        }, ttl_s=DECISION_TTL_S)
        self.addCleanup(self.tokens.stop)
        self.registry = Registry(
            self.workdir,
            auth="{token: {realm: \"%s\", service: test-registry, issuer: test-issuer, "
                 "rootcertbundle: %s}}" % (self.tokens.realm, self.tokens.cert))
        self.addCleanup(self.registry.stop)
        self.registry.start()
        self._logs.append(("docker-registry", self.registry.log))
        self.image = Image([make_layer(721, 200 * 1024)], label="token-private")
        push(self.workdir, self.registry.hostport, "private/app", "1", self.image,
             creds="pusher:pusher-pw-1732")
        self.public = Image([make_layer(722, 50 * 1024)], label="token-public")
        push(self.workdir, self.registry.hostport, "public/app", "1", self.public,
             creds="pusher:pusher-pw-1732")
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(
            self.workdir, self.upstream.url,
            upstream_extra=", access: passthrough, decision_ttl: %ds, denial_ttl: 1s"
            % DECISION_TTL_S)

    def test_the_token_server_decides_who_reads(self):
        # /v2/ relays the upstream's own challenge: the client gets its token there.
        status, hdrs, _ = self.cache.request("GET", "/v2/")
        self.assertEqual(status, 401)
        self.assertIn('realm="%s"' % self.tokens.realm, hdrs["www-authenticate"])
        out = tempfile.mkdtemp(dir=self.workdir)
        pull(self.cache.hostport, "private/app", "1", out, creds="alice:" + ALICE_PW)
        self.assertEqual(layout_blob_digests(out), {b.digest for b in self.image.all_blobs()})

        layer = self.image.layers[0].digest
        bob = self.tokens.token("bob", BOB_PW, "repository:private/app:pull")
        bodies = []
        for who, auth in (("anonymous", None), ("bob", "Bearer " + bob),
                          ("wrong password", basic("alice", WRONG_PW))):
            for path in ("/v2/private/app/manifests/1", "/v2/private/app/blobs/" + layer):
                headers = {"Authorization": auth} if auth else {}
                status, hdrs, body = self.cache.request("GET", path, headers=headers)
                self.assertIn(status, (401, 403), "%s %s" % (who, path))
                bodies.append(body)
        proc = pull(self.cache.hostport, "private/app", "1", tempfile.mkdtemp(dir=self.workdir),
                    check=False, creds="bob:" + BOB_PW)
        self.assertNotEqual(proc.returncode, 0, "bob pulled private/app")
        bodies.append(proc.stderr)
        # bob's public token does not open the private layer through public/app's path.
        bob_public = self.tokens.token("bob", BOB_PW, "repository:public/app:pull")
        status, _, body = self.cache.request("GET", "/v2/public/app/blobs/" + layer,
                                             headers={"Authorization": "Bearer " + bob_public})
        self.assertNotEqual(status, 200)
        self.assertNotIn(self.image.layers[0].data[:64], body)
        lines = access_lines(self.cache.logged())
        refused = [l for l in lines if l[2] in (200, 206) and l[1].endswith(layer)]
        self.assertEqual(len(refused), 1, "the layer went out once: alice's pull")

        # Revoked at the token server: alice's next token has no access; refused at once.
        self.tokens.users["alice"] = (ALICE_PW, ["public/*"])
        wait_until(lambda: pull(self.cache.hostport, "private/app", "1",
                                tempfile.mkdtemp(dir=self.workdir), check=False,
                                creds="alice:" + ALICE_PW).returncode != 0,
                   DECISION_TTL_S + 10, "alice refused after the revocation")

        log = self.cache.logged() + self.registry.log()
        for secret in [ALICE_PW, BOB_PW, WRONG_PW] + self.tokens.issued:
            self.assertNotIn(secret, log)
            for body in bodies:
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
        users = {l[5] for l in access_lines(self.cache.logged()) if "/team/app/" in l[1]}
        self.assertIn("bob", users)
        self.assertIn("ci", users)
        log = self.cache.logged()
        for secret in (BOB_PW, CI_TOKEN, "eve-pw-1414"):
            self.assertNotIn(secret, log)
            for body in self.bodies:
                self.assertNotIn(secret.encode(), body)


if __name__ == "__main__":
    unittest.main()
