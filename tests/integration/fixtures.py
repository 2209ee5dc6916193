"""Shared fixtures of the integration tests.

- Registry: Debian's docker-registry on a free loopback port, the real upstream.
- CountingProxy: a small HTTP reverse proxy between envcache and the registry. It counts
  every request it forwards, and can corrupt or throttle the body of one blob on demand.
- Envcache: the real envcache binary, started with its own config and store.
- Images: OCI image layouts written here (no docker), pushed with skopeo.
"""

import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

STARTUP_DEADLINE_S = 30.0
SKOPEO_TIMEOUT_S = 240
SHUTDOWN_GRACE_S = 10  # envcache's server.shutdown_grace: in-flight responses get this long

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_INDEX,
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)

CHUNK_SIZE = 1048560  # the store's chunk size: 256 pages of 4096 bytes less 16


def envcache_binary():
    path = os.environ.get("ENVCACHE_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest(
            "ENVCACHE_BIN does not name an executable envcache binary: %r" % path
        )
    return path


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest("%s is not installed" % name)
    return path


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, deadline_s, what):
    """Polls a readiness condition until it holds or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        if predicate():
            return
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def http_request(port, method, path, headers=None, body=None, timeout=30):
    """One request on a fresh connection; returns (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def kill_process_group(proc, sig=signal.SIGKILL):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


# --------------------------------------------------------------------------------------------
# docker-registry


class Registry:
    """docker-registry serving from a temporary directory on a free loopback port."""

    def __init__(self, workdir, auth="", port=None):
        """`auth`: the registry's `auth:` section as YAML (one line), e.g. htpasswd."""
        self.workdir = workdir
        self.auth = auth
        self.proc = None
        self.port = None
        self.fixed_port = port
        self.log_path = os.path.join(workdir, "registry.log")

    def start(self):
        exe = require_tool("docker-registry")
        root = os.path.join(self.workdir, "registry-data")
        os.makedirs(root, exist_ok=True)
        for _attempt in range(5):
            port = self.fixed_port or free_port()
            cfg = os.path.join(self.workdir, "registry.yml")
            with open(cfg, "w") as f:
                f.write(
                    "version: 0.1\n"
                    "log: {level: warn, accesslog: {disabled: true}}\n"
                    "storage:\n"
                    "  filesystem: {rootdirectory: %s}\n"
                    "  delete: {enabled: true}\n"
                    "http: {addr: '127.0.0.1:%d'}\n" % (root, port)
                )
                if self.auth:
                    f.write("auth: %s\n" % self.auth)
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [exe, "serve", cfg],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
            if self._wait_ready(port):
                self.port = port
                return self
            kill_process_group(self.proc)
        raise AssertionError("docker-registry did not start:\n" + self.log())

    def _wait_ready(self, port):
        end = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken meanwhile: retry on another
            try:
                status, _, _ = http_request(port, "GET", "/v2/", timeout=2)
                if status == 200 or (self.auth and status == 401):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is not None:
            kill_process_group(self.proc, signal.SIGTERM)
            kill_process_group(self.proc)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-20000:].decode(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------
# Counting reverse proxy


class _ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a reset, or a killed envcache): nothing to report
        super().handle_error(request, client_address)


class CountingProxy:
    """HTTP reverse proxy to an upstream that records every request it forwards.

    corrupt(digest): the body of that blob is forwarded with one byte flipped (same length).
    throttle(digest, rate): that blob's body is written at about `rate` bytes per second.
    hold(pattern) / release(): requests whose path matches the regex wait in the proxy, before
    being forwarded, until release(); held() is how many are waiting.
    finished_at[path]: time.monotonic() when the proxy wrote the last byte of that path.
    answer(pattern, status, content_type, body): requests whose path matches the regex get this
    answer from the proxy itself (an upstream with an endpoint the registry lacks).
    fault_for(method, path): a hook (None here; see faults.FaultFront) naming the fault to inject
    into one request: "reset", "503", "hang", "truncate", "corrupt", "slow", or None.
    """

    SLOW_RATE = 2 << 20  # bytes per second of a "slow" body
    HANG_S = 30  # longest a "hung" request is held before its connection is reset

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.requests = []  # (method, path)
        self.finished_at = {}
        self.corrupted = set()
        self.throttled = {}
        self.sockets = set()
        self.hold_pattern = None
        self.hold_gate = threading.Event()
        self.holding = 0
        self.answers = []  # (compiled pattern, status, content type, body)
        self.calm_gate = threading.Event()  # set: hung requests are let go
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with proxy.lock:
                    proxy.sockets.add(self.connection)

            def finish(self):
                with proxy.lock:
                    proxy.sockets.discard(self.connection)
                super().finish()

            def _forward(self):
                proxy._forward(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        self.server = _ProxyServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.running = False

    def start(self):
        self.thread.start()
        self.running = True
        return self

    def stop(self):
        """Stops listening and cuts every open connection (so keep-alive peers see it)."""
        if not self.running:
            return
        self.running = False
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            socks = list(self.sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.finished_at.clear()

    def corrupt(self, digest, on=True):
        with self.lock:
            if on:
                self.corrupted.add(digest)
            else:
                self.corrupted.discard(digest)

    def throttle(self, digest, bytes_per_second):
        with self.lock:
            self.throttled[digest] = bytes_per_second

    def hold(self, pattern):
        with self.lock:
            self.hold_pattern = re.compile(pattern)
            self.hold_gate = threading.Event()

    def release(self):
        with self.lock:
            self.hold_pattern = None
            gate = self.hold_gate
        gate.set()

    def answer(self, pattern, status, content_type, body):
        with self.lock:
            self.answers.append((re.compile(pattern), status, content_type, body))

    def held(self):
        with self.lock:
            return self.holding

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def fault_for(self, method, path):
        return None

    @staticmethod
    def _answer(handler, status, content_type, data):
        """Answers from the proxy itself, without asking the upstream."""
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    @staticmethod
    def _reset(handler):
        """Closes the client connection with a TCP reset (no answer, or a cut body)."""
        handler.close_connection = True
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
        except OSError:
            pass

    def blob_gets(self, digest=None):
        """Number of GET requests for blobs (of one digest, or per digest as a dict)."""
        counts = {}
        for method, path in self.snapshot():
            m = re.match(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})(\?.*)?$", path)
            if method == "GET" and m:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        if digest is not None:
            return counts.get(digest, 0)
        return counts

    def _forward(self, handler):
        path = handler.path
        with self.lock:
            self.requests.append((handler.command, path))
            gate = self.hold_gate if self.hold_pattern and self.hold_pattern.search(path) else None
            if gate:
                self.holding += 1
        if gate:
            gate.wait(timeout=120)
            with self.lock:
                self.holding -= 1
        with self.lock:
            canned = next((a for a in self.answers if a[0].search(path)), None)
        if canned:
            _, status, content_type, data = canned
            self._answer(handler, status, content_type, data)
            return
        fault = self.fault_for(handler.command, path)
        if fault == "hang":
            self.calm_gate.wait(timeout=self.HANG_S)
        if fault in ("reset", "hang"):
            self._reset(handler)
            return
        if fault == "503":
            data = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
            self._answer(handler, 503, "application/json", data)
            return
        body = None
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            body = handler.rfile.read(length)
        headers = [
            (k, v)
            for k, v in handler.headers.items()
            if k.lower() not in ("host", "connection", "keep-alive", "transfer-encoding", "content-length")
        ]
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.putrequest(handler.command, path, skip_accept_encoding=True)
            for k, v in headers:  # repeated headers (several Accept lines) kept as they came
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
        except OSError:
            handler.send_error(502)
            return
        digest_m = re.search(r"/blobs/(sha256:[0-9a-f]{64})", path)
        digest = digest_m.group(1) if digest_m else None
        with self.lock:
            corrupt = digest in self.corrupted or fault == "corrupt"
            rate = self.SLOW_RATE if fault == "slow" else self.throttled.get(digest)
        out_headers = [
            (k, v)
            for k, v in resp.getheaders()
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")
        ]
        try:
            if resp.getheader("Content-Length") is not None or handler.command == "HEAD":
                length = resp.getheader("Content-Length")
                handler.send_response(resp.status)
                for k, v in out_headers:
                    handler.send_header(k, v)
                if length is not None:
                    handler.send_header("Content-Length", length)
                handler.end_headers()
                if handler.command != "HEAD":
                    cut = int(length or 0) // 2 if fault == "truncate" else None
                    self._stream(handler, resp, int(length or 0), corrupt, rate, cut)
                    if cut is not None:
                        self._reset(handler)
                        return
            else:
                data = resp.read()
                handler.send_response(resp.status)
                for k, v in out_headers:
                    handler.send_header(k, v)
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True
        finally:
            with self.lock:
                self.finished_at[path] = time.monotonic()
            conn.close()

    def _stream(self, handler, resp, length, corrupt, rate, cut=None):
        """Copies the body; `cut`: stop after that many bytes (a truncated body)."""
        piece = 256 * 1024
        if cut is not None:
            length = cut
        sent = 0
        flip_at = length // 2
        start = time.monotonic()
        while sent < length:
            data = resp.read(min(piece, length - sent))
            if not data:
                break
            if corrupt and sent <= flip_at < sent + len(data):
                b = bytearray(data)
                b[flip_at - sent] ^= 0xFF
                data = bytes(b)
            handler.wfile.write(data)
            sent += len(data)
            if rate:
                # Pace the body: never ahead of `rate` bytes per second.
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)


# --------------------------------------------------------------------------------------------
# envcache


class Envcache:
    """The real envcache binary serving from its own store, with its log kept for failures."""

    LISTEN_RE = re.compile(rb"listening on \[?([0-9.:a-f]+?)\]?:(\d+)")

    def __init__(self, workdir, upstream_url, tag_ttl="5m", name="upstream.test", extra="",
                 max_size="2GiB", listen="127.0.0.1:0", upstream_extra="", storage_extra="",
                 server="", env=None, more_upstreams=""):
        """upstream_extra, storage_extra: more keys of those mappings (", retries: 0");
        `more_upstreams`: more entries of the upstreams list ("  - {name: b, url: ...}\n");
        `server`: more server keys ("max_connections: 8, header_timeout: 2s"); `env`: more
        environment variables for the process."""
        self.workdir = workdir
        self.storage_extra = storage_extra
        self.listen = listen
        self.upstream_extra = upstream_extra
        self.server = server
        self.env = env
        self.more_upstreams = more_upstreams
        self.max_size = max_size
        self.upstream_url = upstream_url
        self.tag_ttl = tag_ttl
        self.name = name
        self.extra = extra
        self.upstream_extra = upstream_extra  # more keys of the upstream's flow mapping
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "envcache.log")
        self.output = bytearray()
        self.markers = 0
        self.lock = threading.Lock()
        self.listening = threading.Event()
        self.exit_code = None

    def start(self):
        exe = envcache_binary()
        data = os.path.join(self.workdir, "envcache-data")
        os.makedirs(data, exist_ok=True)
        cfg = os.path.join(self.workdir, "envcache.yml")
        with open(cfg, "w") as f:
            f.write(
                "listen: %s\n"
                "storage: {path: %s, max_size: %s%s}\n"
                "upstreams:\n"
                "  - {name: %s, url: \"%s\", default: true, tag_ttl: %s%s}\n"
                "%s"
                "prefetch: false\n"
                "server: {shutdown_grace: %ds%s}\n%s"
                % (self.listen, data, self.max_size, self.storage_extra, self.name, self.upstream_url, self.tag_ttl,
                   self.upstream_extra, self.more_upstreams, SHUTDOWN_GRACE_S, ", " + self.server if self.server else "", self.extra)
            )
        self.proc = subprocess.Popen(
            [exe, "serve", "--config", cfg],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, **self.env) if self.env else None,
        )
        reader = self.reader = threading.Thread(target=self._read_output, daemon=True)
        reader.start()
        end = time.monotonic() + STARTUP_DEADLINE_S
        while not self.listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > end:
                reader.join(timeout=2)
                kill_process_group(self.proc)
                raise AssertionError(
                    "envcache did not print 'listening on' (exit %r):\n%s"
                    % (self.proc.returncode, self.log())
                )
        return self

    def _read_output(self):
        with open(self.log_path, "ab") as log:  # appended: a restart on the same dir keeps it
            for line in iter(self.proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                with self.lock:
                    self.output += line
                if self.port is None:
                    m = self.LISTEN_RE.search(line)
                    if m:
                        self.port = int(m.group(2))
                        self.listening.set()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def log(self):
        with self.lock:
            return bytes(self.output[-30000:]).decode(errors="replace")

    def logged(self):
        """The log once every request answered so far is in it. Access lines are written in
        batches (within 50 ms), in order: so a marker request goes out, answered 400 without
        reaching an upstream (its name is not valid), and its line is waited for."""
        self.markers += 1
        path = "/v2/LOG-MARKER-%d/tags/list" % self.markers
        self.request("GET", path)
        wait_until(lambda: path + " " in self.log(), 10, "the access-log line of " + path)
        return self.log()

    def stop(self):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        if self.proc is None or self.exit_code is not None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(timeout=SHUTDOWN_GRACE_S + 20)
            except subprocess.TimeoutExpired:
                kill_process_group(self.proc)
                self.exit_code = None
                return None
        else:
            self.exit_code = self.proc.returncode
        kill_process_group(self.proc)  # anything left in its group
        self.proc.stdout.close()
        return self.exit_code

    def kill(self):
        """SIGKILL, as a crash or the OOM killer would: no shutdown, no flush."""
        kill_process_group(self.proc)
        self.exit_code = -signal.SIGKILL
        self.reader.join(timeout=10)  # the pipe's end of file, once the whole group is gone
        self.proc.stdout.close()

    def request(self, method, path, headers=None, body=None, timeout=30):
        return http_request(self.port, method, path, headers, body, timeout)


# --------------------------------------------------------------------------------------------
# Images


class Blob:
    def __init__(self, data, media_type):
        self.data = data
        self.media_type = media_type
        self.digest = sha256_digest(data)
        self.size = len(data)

    def descriptor(self, **extra):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


def random_bytes(seed, size):
    import random

    return random.Random(seed).randbytes(size)


def make_layer(seed, size, name=None):
    """A gzip tar layer holding one file of `size` pseudo-random bytes (deterministic by seed)."""
    content = random_bytes(seed, size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name or "data/file-%s" % seed)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    # Level 0 (stored blocks) keeps generating a 64 MiB layer fast; it is still valid gzip.
    level = 0 if size > (8 << 20) else 6
    return Blob(gzip.compress(buf.getvalue(), compresslevel=level, mtime=0), OCI_LAYER_GZIP)


class Image:
    def __init__(self, layers, arch="amd64", label="image"):
        self.layers = layers
        diff_ids = [sha256_digest(gzip.decompress(l.data)) for l in layers]
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"test": label}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "integration test %s layer %d" % (label, i)} for i in range(len(layers))],
        }
        self.config = Blob(json.dumps(config, sort_keys=True).encode(), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.config.descriptor(),
            "layers": [l.descriptor() for l in layers],
        }
        self.manifest = Blob(json.dumps(manifest, indent=2).encode(), OCI_MANIFEST)
        self.arch = arch

    def blobs(self):
        return [self.config] + list(self.layers)

    def all_blobs(self):
        return [self.manifest] + self.blobs()


class Index:
    def __init__(self, images):
        self.images = images
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                img.manifest.descriptor(platform={"architecture": img.arch, "os": "linux"})
                for img in images
            ],
        }
        self.manifest = Blob(json.dumps(index, indent=2).encode(), OCI_INDEX)

    def blobs(self):
        out = []
        for img in self.images:
            out.append(img.manifest)
            out.extend(img.blobs())
        return out

    def all_blobs(self):
        return [self.manifest] + self.blobs()


def write_layout(directory, tag, obj):
    """Writes an OCI image layout holding `obj` (Image or Index) under the ref name `tag`."""
    blobs_dir = os.path.join(directory, "blobs", "sha256")
    os.makedirs(blobs_dir, exist_ok=True)
    for blob in obj.all_blobs():
        path = os.path.join(blobs_dir, blob.digest.split(":", 1)[1])
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(blob.data)
    with open(os.path.join(directory, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    index = {
        "schemaVersion": 2,
        "manifests": [
            obj.manifest.descriptor(annotations={"org.opencontainers.image.ref.name": tag})
        ],
    }
    with open(os.path.join(directory, "index.json"), "w") as f:
        json.dump(index, f)


def skopeo(*args, timeout=SKOPEO_TIMEOUT_S, check=True):
    exe = require_tool("skopeo")
    cmd = [exe, "--insecure-policy", "--override-os", "linux", "--override-arch", "amd64"] + list(args)
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(
            "%s failed (%d):\n%s%s"
            % (" ".join(cmd), proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
        )
    return proc


def push(workdir, registry_hostport, repo, tag, obj, creds=None):
    """Pushes an Image or Index to the registry with skopeo (from an OCI layout)."""
    layout = tempfile.mkdtemp(prefix="layout-", dir=workdir)
    write_layout(layout, tag, obj)
    args = ["copy", "--dest-tls-verify=false", "--preserve-digests"]
    if creds:
        args.append("--dest-creds=" + creds)
    if isinstance(obj, Index):
        args.append("--all")
    args += ["oci:%s:%s" % (layout, tag), "docker://%s/%s:%s" % (registry_hostport, repo, tag)]
    skopeo(*args)
    shutil.rmtree(layout, ignore_errors=True)


def pull(hostport, repo, tag, out_dir, all_platforms=False, check=True, timeout=SKOPEO_TIMEOUT_S,
         creds=None):
    """skopeo copy docker://hostport/repo:tag → oci:out_dir:tag."""
    args = ["copy", "--src-tls-verify=false"]
    if creds:
        args.append("--src-creds=" + creds)
    if all_platforms:
        args.append("--all")
    args += ["docker://%s/%s:%s" % (hostport, repo, tag), "oci:%s:%s" % (out_dir, tag)]
    return skopeo(*args, check=check, timeout=timeout)


def layout_blob_digests(directory):
    """Every blob in an OCI layout, re-hashed from its bytes."""
    out = set()
    blobs_dir = os.path.join(directory, "blobs", "sha256")
    for name in os.listdir(blobs_dir):
        with open(os.path.join(blobs_dir, name), "rb") as f:
            h = hashlib.sha256()
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out.add("sha256:" + h.hexdigest())
    return out


def layout_top_digest(directory):
    with open(os.path.join(directory, "index.json")) as f:
        return json.load(f)["manifests"][0]["digest"]


# --------------------------------------------------------------------------------------------
# Test case base


class EnvcacheTestCase(unittest.TestCase):
    """Gives each test its own temp dir, registry, counting proxy and envcache.

    Everything started is stopped in cleanups, which run even when a test or setUp fails.
    envcache must exit 0 on SIGTERM; logs are printed when a test fails.
    """

    maxDiff = None

    def make_workdir(self):
        base = os.environ.get("ENVCACHE_IT_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        workdir = tempfile.mkdtemp(prefix="envcache-it-", dir=base)
        self.addCleanup(shutil.rmtree, workdir, True)
        return workdir

    def start_registry(self, workdir):
        registry = Registry(workdir)
        self.addCleanup(registry.stop)
        registry.start()
        self._logs.append(("docker-registry", registry.log))
        return registry

    def start_proxy(self, registry):
        proxy = CountingProxy(registry.port)
        self.addCleanup(proxy.stop)
        return proxy.start()

    def start_envcache(self, workdir, upstream_url, **kwargs):
        cache = Envcache(workdir, upstream_url, **kwargs)
        self.addCleanup(self._stop_envcache, cache)
        cache.start()
        self._logs.append(("envcache", cache.log))
        return cache

    def start_stack(self, which=None, **envcache_kwargs):
        """The usual set-up: a workdir, the image set pushed to a registry (only the repos in
        `which` if given), a counting proxy in front of it, and envcache using the proxy as its
        upstream. Sets self.workdir, images, registry, upstream and cache."""
        self.workdir = self.make_workdir()
        self.images = image_set()
        self.registry = self.start_registry(self.workdir)
        self.images.push_all(self.workdir, self.registry.hostport, which=which)
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(self.workdir, self.upstream.url, **envcache_kwargs)

    def pull_all(self, round_name):
        """Pulls every image of the set through envcache with skopeo and checks what arrived."""
        for repo, tag, obj in self.images.refs:
            out = os.path.join(self.workdir, "%s-%s" % (round_name, repo.replace("/", "_")))
            pull(self.cache.hostport, repo, tag, out, all_platforms=isinstance(obj, Index))
            with self.subTest(round=round_name, image=repo):
                self.assertEqual(layout_top_digest(out), obj.manifest.digest)
                self.assertEqual(layout_blob_digests(out), {b.digest for b in obj.all_blobs()})

    def stats(self):
        """envcache's admin stats."""
        status, _, body = self.cache.request("GET", "/api/v1/admin/stats")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def _stop_envcache(self, cache):
        code = cache.stop()
        if cache.proc is not None and code != 0:
            self._print_logs()
            self.fail("envcache exited with %r on SIGTERM, not 0" % code)

    def setUp(self):
        self._logs = []
        self._printed = False
        self.addCleanup(self._print_logs_if_failed)

    def _print_logs_if_failed(self):
        outcome = getattr(self, "_outcome", None)
        failed = False
        if outcome is not None:
            result = getattr(outcome, "result", None)
            if result is not None and (result.failures or result.errors):
                failed = any(t is self for t, _ in result.failures + result.errors)
            if getattr(outcome, "success", True) is False:
                failed = True
        if failed:
            self._print_logs()

    def _print_logs(self):
        if self._printed:
            return
        self._printed = True
        for name, get in self._logs:
            text = get()
            print("\n----- %s log (tail) -----\n%s" % (name, text[-8000:]))


# --------------------------------------------------------------------------------------------
# The images most tests use

BIG_LAYER_SIZE = 66 << 20  # over 64 MiB


class ImageSet:
    """Four images: two sharing layers, a two-platform index, and one with a layer over 64 MiB."""

    def __init__(self):
        shared1 = make_layer(1, 1 << 20)
        shared2 = make_layer(2, 300 << 10)
        self.app = Image([shared1, shared2, make_layer(3, 3 << 20), make_layer(4, 50 << 10)], label="app")
        self.tools = Image([shared1, shared2, make_layer(5, 200 << 10)], label="tools")
        self.multi = Index(
            [
                Image([make_layer(6, 400 << 10), shared1], arch="amd64", label="multi"),
                Image([make_layer(7, 400 << 10), shared1], arch="arm64", label="multi"),
            ]
        )
        self.big_layer = make_layer(8, BIG_LAYER_SIZE)
        self.big = Image([self.big_layer, shared2], label="big")
        # (repo, tag, object)
        self.refs = [
            ("envs/app", "1.0", self.app),
            ("envs/tools", "2.0", self.tools),
            ("envs/multi", "latest", self.multi),
            ("envs/big", "v1", self.big),
        ]

    def push_all(self, workdir, registry_hostport, which=None):
        for repo, tag, obj in self.refs:
            if which is None or repo in which:
                push(workdir, registry_hostport, repo, tag, obj)


_image_set = None


def image_set():
    global _image_set
    if _image_set is None:
        _image_set = ImageSet()
    return _image_set
