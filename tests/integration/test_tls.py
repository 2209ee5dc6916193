"""envcache serving HTTPS (server.tls): real clients pull over TLS with a client certificate
(skopeo with --src-cert-dir, containerd's ctr with a hosts.toml `ca` and `client`, podman with
--cert-dir); with `client_auth: require` a client without a certificate is refused; SIGHUP
swaps the certificate for new connections while one in flight completes; the CLI speaks HTTPS.
The test makes its own CA, server and client certificates with the openssl command."""

import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

import fixtures as F
import test_clients as C
from test_clients import UPSTREAM_NAME, require_root, run


def openssl(*args):
    proc = subprocess.run([F.require_tool("openssl")] + list(args), capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), proc.stderr.decode(errors="replace")))


class Pki:
    """A CA and certificates it signs, as PEM files in `directory`."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_crt = self.path("ca.crt")
        self.ca_key = self.path("ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca_crt, "-days", "2", "-subj", "/CN=envcache test CA")

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, cn, san, usage):
        """Signs a new key's certificate; returns (cert path, key path)."""
        key, csr, crt, ext = (self.path(name + s) for s in (".key", ".csr", ".crt", ".ext"))
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\nextendedKeyUsage=%s\n" % (san, usage))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                "-out", csr, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key, "-CAcreateserial",
                "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key

    def server(self, name="server", cn="envcache.test"):
        return self.issue(name, cn, "DNS:localhost,IP:127.0.0.1", "serverAuth")

    def client(self, name="client", cn="ci-runner"):
        return self.issue(name, cn, "DNS:runner.example,email:ci@example.org", "clientAuth")

    def cert_dir(self, name, client=None):
        """A docker-style certs directory: ca.crt, and client.cert + client.key if given."""
        d = self.path(name)
        os.makedirs(d)
        shutil.copy(self.ca_crt, os.path.join(d, "ca.crt"))
        if client:
            shutil.copy(client[0], os.path.join(d, "client.cert"))
            shutil.copy(client[1], os.path.join(d, "client.key"))
        return d


def tls_server_config(cert, key, client_ca=None, client_auth="none"):
    text = "tls: {cert_file: %s, key_file: %s" % (cert, key)
    if client_ca:
        text += ", client_ca_file: %s, client_auth: %s" % (client_ca, client_auth)
    return text + "}"


def client_context(pki, client=None):
    context = ssl.create_default_context(cafile=pki.ca_crt)
    if client:
        context.load_cert_chain(client[0], client[1])
    return context


def common_name(peercert):
    for rdn in peercert["subject"]:
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class TlsTestCase(F.EnvcacheTestCase):
    which = {"envs/app"}
    client_auth = "require"

    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.pki = Pki(os.path.join(self.workdir, "pki"))
        self.server_cert = self.pki.server()
        self.client_cert = self.pki.client()
        self.images = F.image_set()
        self.registry = self.start_registry(self.workdir)
        self.images.push_all(self.workdir, self.registry.hostport, which=self.which)
        self.upstream = self.start_proxy(self.registry)
        ca = self.pki.ca_crt if self.client_auth != "none" else None
        self.cache = self.start_envcache(
            self.workdir, self.upstream.url, name=UPSTREAM_NAME,
            server=tls_server_config(*self.server_cert, client_ca=ca, client_auth=self.client_auth))

    def https_get(self, path, context, timeout=30):
        """(status, body) of GET path over a new TLS connection."""
        with socket.create_connection(("127.0.0.1", self.cache.port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path.encode())
                data = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body


class ClientCertificates(TlsTestCase):
    def test_skopeo_pulls_over_tls_with_a_client_certificate(self):
        certs = self.pki.cert_dir("skopeo-certs", self.client_cert)
        out = os.path.join(self.workdir, "pulled")
        F.skopeo("copy", "--src-cert-dir", certs, "docker://%s/envs/app:1.0" % self.cache.hostport, "oci:%s:1.0" % out)
        self.assertEqual(F.layout_top_digest(out), self.images.app.manifest.digest)
        self.assertEqual(F.layout_blob_digests(out), {b.digest for b in self.images.app.all_blobs()})

    def test_a_client_without_a_certificate_is_refused(self):
        certs = self.pki.cert_dir("ca-only")
        out = os.path.join(self.workdir, "refused")
        proc = F.skopeo("copy", "--src-cert-dir", certs, "docker://%s/envs/app:1.0" % self.cache.hostport,
                        "oci:%s:1.0" % out, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(out, "index.json")))
        # Refused in the handshake: not one request reached the handlers, nothing went upstream.
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            self.https_get("/v2/", client_context(self.pki))
        self.assertEqual(self.upstream.blob_gets(), {})
        self.assertIn("tls: handshake with 127.0.0.1 failed", self.cache.log())
        status, _ = self.https_get("/v2/", client_context(self.pki, self.client_cert))
        self.assertEqual(status, 200)

    def test_a_certificate_from_another_ca_is_refused(self):
        other = Pki(os.path.join(self.workdir, "other-pki"))
        stranger = other.client("stranger")
        context = client_context(self.pki)
        context.load_cert_chain(*stranger)
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            self.https_get("/v2/", context)

    def test_ctr_pulls_through_a_tls_mirror_with_ca_and_client_in_hosts_toml(self):
        containerd = F.require_tool("containerd")
        ctr = F.require_tool("ctr")
        require_root("containerd")
        d, sock = C.start_containerd(self, containerd)
        hosts_dir = os.path.join(d, "hosts")
        os.makedirs(os.path.join(hosts_dir, UPSTREAM_NAME))
        with open(os.path.join(hosts_dir, UPSTREAM_NAME, "hosts.toml"), "w") as f:
            f.write(
                'server = "https://%s"\n\n[host."https://%s"]\n  capabilities = ["pull", "resolve"]\n'
                '  ca = "%s"\n  client = [["%s", "%s"]]\n'
                % (UPSTREAM_NAME, self.cache.hostport, self.pki.ca_crt, self.client_cert[0], self.client_cert[1])
            )
        ref = "%s/envs/app:1.0" % UPSTREAM_NAME
        base = [ctr, "--address", sock, "--namespace", "envcache-test"]
        run(base + ["image", "pull", "--hosts-dir", hosts_dir, "--snapshotter", "native", ref])
        out = run(base + ["image", "ls"]).stdout.decode()
        line = next((l for l in out.splitlines() if l.startswith(ref + " ")), "")
        self.assertIn(self.images.app.manifest.digest, line, out)

    def test_podman_pulls_through_a_tls_mirror_with_a_cert_dir(self):
        podman = F.require_tool("podman")
        require_root("podman")
        d, env = C.podman_dirs(self)
        C.write_registries_conf(env, self.cache.hostport, insecure=False)
        certs = self.pki.cert_dir("podman-certs", self.client_cert)
        ref = "%s/envs/app:1.0" % UPSTREAM_NAME
        run(C.podman_cmd(podman, d, env, "pull", "--cert-dir", certs, "--signature-policy",
                         os.path.join(d, "policy.json"), ref), env=env)
        digest = run(C.podman_cmd(podman, d, env, "image", "inspect", "--format", "{{.Digest}}", ref),
                     env=env).stdout.decode().strip()
        self.assertEqual(digest, self.images.app.manifest.digest)
        self.assertTrue(self.upstream.blob_gets())  # came through envcache, not around it

    def test_the_cli_speaks_https_with_a_ca_file_and_a_client_certificate(self):
        cmd = [F.envcache_binary(), "admin", "stats", "--server", "https://127.0.0.1:%d" % self.cache.port,
               "--ca-file", self.pki.ca_crt, "--cert", self.client_cert[0], "--key", self.client_cert[1]]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.assertIn("blobs", proc.stdout.decode())
        # Without the CA the server's certificate is not trusted: a clear error, exit 1.
        proc = subprocess.run(cmd[:5], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 1, proc.stdout.decode(errors="replace"))
        self.assertIn("certificate verify failed", proc.stderr.decode(errors="replace"))


class CertificateReload(TlsTestCase):
    which = {"envs/big"}
    client_auth = "none"

    def test_sighup_gives_new_connections_the_new_certificate_and_keeps_one_in_flight(self):
        big = self.images.big_layer
        context = client_context(self.pki)
        raw = socket.create_connection(("127.0.0.1", self.cache.port), timeout=60)
        first = context.wrap_socket(raw, server_hostname="127.0.0.1")
        self.addCleanup(first.close)
        self.assertEqual(common_name(first.getpeercert()), "envcache.test")
        first.sendall(b"GET /v2/envs/big/blobs/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % big.digest.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = first.recv(65536)
            self.assertTrue(chunk, "the connection closed before the headers")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        # 66 MiB do not fit in the socket buffers: the response is still being written.
        self.assertLess(len(body), len(big.data))

        # The files change on disk, then SIGHUP.
        renewed = self.pki.server("renewed", cn="envcache-renewed.test")
        shutil.copy(renewed[0], self.server_cert[0])
        shutil.copy(renewed[1], self.server_cert[1])
        self.cache.proc.send_signal(signal.SIGHUP)
        F.wait_until(lambda: "tls: reloaded" in self.cache.log(), 10, "the reload")

        with socket.create_connection(("127.0.0.1", self.cache.port), timeout=30) as raw2:
            with context.wrap_socket(raw2, server_hostname="127.0.0.1") as second:
                self.assertEqual(common_name(second.getpeercert()), "envcache-renewed.test")

        digest = hashlib.sha256(body)
        size = len(body)
        while size < len(big.data):
            chunk = first.recv(1 << 20)
            self.assertTrue(chunk, "the download in flight was cut after %d bytes" % size)
            digest.update(chunk)
            size += len(chunk)
        self.assertEqual(size, len(big.data))
        self.assertEqual("sha256:" + digest.hexdigest(), big.digest)
        self.assertEqual(common_name(first.getpeercert()), "envcache.test")

    def test_a_bad_certificate_on_sighup_keeps_the_previous_one(self):
        with open(self.server_cert[1], "w") as f:
            f.write("not a key\n")
        self.cache.proc.send_signal(signal.SIGHUP)
        F.wait_until(lambda: "keeping the previous certificate" in self.cache.log(), 10, "the failed reload")
        status, _ = self.https_get("/v2/", client_context(self.pki))
        self.assertEqual(status, 200)


class StartUp(unittest.TestCase):
    def run_serve(self, workdir, server_extra, listen="127.0.0.1:0"):
        cfg = os.path.join(workdir, "envcache.yml")
        with open(cfg, "w") as f:
            f.write("listen: %s\nstorage: {path: %s}\nupstreams:\n  - {name: u.test, url: \"http://127.0.0.1:1\"}\n"
                    "server:\n  tls:\n%s" % (listen, os.path.join(workdir, "data"), server_extra))
        return subprocess.run([F.envcache_binary(), "serve", "--config", cfg], capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_a_key_of_another_certificate_stops_start_up_naming_file_line_and_key(self):
        workdir = tempfile.mkdtemp(prefix="envcache-it-", dir=os.environ.get("ENVCACHE_IT_TMP") or None)
        self.addCleanup(shutil.rmtree, workdir, True)
        pki = Pki(os.path.join(workdir, "pki"))
        cert, _ = pki.server("a")
        _, other_key = pki.server("b")
        proc = self.run_serve(workdir, "    cert_file: %s\n    key_file: %s\n" % (cert, other_key))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("envcache.yml:8: server.tls.key_file: \"%s\" is not the key of the certificate" % other_key,
                      proc.stderr.decode())


class PlainBeyondLoopback(F.EnvcacheTestCase):
    def test_listening_beyond_loopback_without_tls_warns_at_start_up(self):
        workdir = self.make_workdir()
        cache = self.start_envcache(workdir, "http://127.0.0.1:1", listen="0.0.0.0:0")
        self.assertIn("beyond loopback without TLS", cache.log())
        local = self.start_envcache(self.make_workdir(), "http://127.0.0.1:1")
        self.assertNotIn("beyond loopback without TLS", local.log())


if __name__ == "__main__":
    unittest.main()
