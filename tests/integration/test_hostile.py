"""The real server under hostile traffic on loopback: malformed and pipelined HTTP, invalid
chunked bodies, header floods, slow-loris clients up to server.max_connections and 10,000
connections opened and dropped. After each, envcache is still up, its memory (RSS from /proc)
stays bounded, and well-formed requests get correct answers."""

import hashlib
import os
import socket
import struct
import time
import unittest

import fixtures as F

REPO = "hostile/app"
TAG = "1"
MAX_CONNECTIONS = 32
HEADER_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 3
SOCKET_TIMEOUT_S = 15  # any single wait on the server; far above its own timeouts
# Under ASan, freed memory sits in a quarantine (256 MiB by default) that would look like
# growth; a small one leaves what the server really holds.
ASAN_QUARANTINE_MB = 8
RSS_GROWTH_LIMIT_KIB = 48 * 1024


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
    s.settimeout(SOCKET_TIMEOUT_S)
    return s


def read_to_close(s):
    """Everything the server sends until it closes (a reset counts as a close)."""
    data = bytearray()
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def exchange(port, payload):
    """Sends `payload` on a fresh connection, half-closes, and returns all the server sent."""
    with connect(port) as s:
        s.sendall(payload)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return read_to_close(s)


def parse_responses(data, head_requests=()):
    """The responses in `data` as (status, headers, body); bodies by Content-Length. Indices in
    `head_requests` answered HEAD requests (no body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("a truncated response: %r" % data[:300])
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = 0 if len(out) in head_requests else int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class HostileTraffic(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.workdir = self.make_workdir()
        self.layer = F.make_layer(41, 96 << 10)
        self.image = F.Image([self.layer], label="hostile")
        self.registry = self.start_registry(self.workdir)
        F.push(self.workdir, self.registry.hostport, REPO, TAG, self.image)
        asan = os.environ.get("ASAN_OPTIONS", "")
        asan = (asan + ":" if asan else "") + "quarantine_size_mb=%d" % ASAN_QUARANTINE_MB
        self.cache = self.start_envcache(
            self.workdir,
            "http://" + self.registry.hostport,
            server="max_connections: %d, header_timeout: %ds, idle_timeout: %ds"
            % (MAX_CONNECTIONS, HEADER_TIMEOUT_S, IDLE_TIMEOUT_S),
            env={"ASAN_OPTIONS": asan},
        )
        self.port = self.cache.port
        self.manifest_path = "/v2/%s/manifests/%s" % (REPO, TAG)
        self.blob_path = "/v2/%s/blobs/%s" % (REPO, self.layer.digest)
        self.assert_healthy()  # and the image is cached before the attack

    def assert_healthy(self):
        """envcache runs and answers well-formed requests correctly, from a fresh client."""
        self.assertIsNone(self.cache.proc.poll(), "envcache exited")
        status, _, body = self.cache.request("GET", "/v2/", timeout=SOCKET_TIMEOUT_S)
        self.assertEqual(status, 200, body)
        status, headers, body = self.cache.request(
            "GET", self.manifest_path, {"Accept": F.MANIFEST_ACCEPT}, timeout=SOCKET_TIMEOUT_S)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(F.sha256_digest(body), self.image.manifest.digest)
        status, _, body = self.cache.request("GET", self.blob_path, timeout=SOCKET_TIMEOUT_S)
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), self.layer.digest.split(":")[1])

    def wait_for_capacity(self):
        """Polls until a new connection is served again (sessions of earlier clients ended)."""
        def served():
            try:
                return self.cache.request("GET", "/v2/", timeout=SOCKET_TIMEOUT_S)[0] == 200
            except OSError:
                return False
        F.wait_until(served, HEADER_TIMEOUT_S + IDLE_TIMEOUT_S + 10, "envcache to serve again")

    def test_malformed_requests_are_refused_with_4xx_and_the_server_stays_up(self):
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /v2/ HTTP/9.9\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            b"\x00\xff\xfe\x16\x03\x01 binary\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
            b"GET /v2/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST /api/v1/environments/resolve HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\nHo\x00st: x\r\n\r\n",
            b"GET /v2/\x7f HTTP/1.1\r\n\r\n",
            b"GET /v2/%zz/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v2/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v2/a%2f..%2fb/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET http://evil.example/v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
            b"\r\n" * 5000,
        ]
        for payload in cases:
            with self.subTest(payload=payload[:60]):
                answer = exchange(self.port, payload)
                self.assertRegex(answer[:12], rb"^HTTP/1\.1 4\d\d", answer[:300])
        self.assert_healthy()

    def test_pipelined_requests_are_answered_in_order(self):
        accept = ("Accept: %s\r\n" % F.MANIFEST_ACCEPT).encode()
        requests = [
            b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET " + self.manifest_path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + accept + b"\r\n",
            b"HEAD " + self.blob_path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v2/" + REPO.encode() + b"/manifests/nosuchtag HTTP/1.1\r\nHost: x\r\n" + accept + b"\r\n",
            b"GET " + self.blob_path.encode() + b" HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n",
        ]
        for round_ in range(20):
            data = exchange(self.port, b"".join(requests))
            got = parse_responses(data, head_requests={2})
            self.assertEqual([g[0] for g in got], [200, 200, 200, 404, 206], "round %d" % round_)
            self.assertEqual(F.sha256_digest(got[1][2]), self.image.manifest.digest)
            self.assertEqual(got[4][2], self.layer.data[:10])
        # A malformed request in the middle: those before it are answered, then a 400 and close.
        data = exchange(self.port, requests[0] + b"BROKEN\r\n\r\n" + requests[1])
        self.assertEqual([g[0] for g in parse_responses(data)], [200, 400])
        self.assert_healthy()

    def test_invalid_chunked_bodies_are_refused_and_a_valid_one_is_read(self):
        head = b"POST /api/v1/environments/resolve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        bad_bodies = [
            b"zz\r\nabc\r\n0\r\n\r\n",  # not hex
            b"ffffffffffffffffffff\r\nx\r\n0\r\n\r\n",  # overflows
            b"3\r\nabcdef\r\n0\r\n\r\n",  # longer than its size
            b"3\r\nab",  # cut short, then closed
            b"-1\r\nx\r\n0\r\n\r\n",
            b"3;" + b"e" * 20000 + b"\r\nabc\r\n0\r\n\r\n",  # a huge extension
            b"3\r\nabc\r\n0\r\n" + b"X-Trailer: y\r\n" * 2000 + b"\r\n",  # a trailer flood
        ]
        for body in bad_bodies:
            with self.subTest(body=body[:40]):
                answer = exchange(self.port, head + body)
                self.assertRegex(answer[:12], rb"^HTTP/1\.1 400", answer[:300])
        # Over server.max_body_bytes (4 MiB by default) in many chunks: 413.
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        answer = exchange(self.port, head + chunk * 80 + b"0\r\n\r\n")
        self.assertRegex(answer[:12], rb"^HTTP/1\.1 413", answer[:300])
        # A valid chunked body reaches the API, which reads it as JSON ("{}": not a bundle).
        answer = exchange(self.port, head + b"1\r\n{\r\n1\r\n}\r\n0\r\n\r\n")
        got = parse_responses(answer)
        self.assertEqual(got[0][0], 400, answer[:300])
        self.assertIn(b"invalid bundle", got[0][2])
        self.assert_healthy()

    def test_header_floods_are_refused_with_431(self):
        floods = [
            b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            b"GET /v2/ HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
            b"GET /v2/ HTTP/1.1\r\nCookie: " + b"c=d; " * 10000 + b"\r\n\r\n",
        ]
        for payload in floods:
            with self.subTest(payload=payload[:40]):
                answer = exchange(self.port, payload)
                self.assertRegex(answer[:12], rb"^HTTP/1\.1 431", answer[:300])
        # Many headers under the limit are fine.
        answer = exchange(self.port, b"GET /v2/ HTTP/1.1\r\n" + b"X-A: b\r\n" * 500
                          + b"Connection: close\r\n\r\n")
        self.assertEqual(parse_responses(answer)[0][0], 200)
        self.assert_healthy()

    def test_slow_loris_clients_up_to_max_connections_are_dropped_and_service_resumes(self):
        rss_before = rss_kib(self.cache.proc.pid)
        started = time.monotonic()
        loris = []

        def open_loris():
            s = connect(self.port)
            # Half send a partial header, half nothing at all.
            if len(loris) % 2 == 0:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            loris.append(s)

        def refused():
            """A well-formed request on a new connection gets no answer (closed at once)."""
            with connect(self.port) as s:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if not read_to_close(s).startswith(b"HTTP/1.1 200"):
                    return True
            open_loris()  # a session of the set-up's requests had not ended yet: fill its slot
            return False

        try:
            for _ in range(MAX_CONNECTIONS):
                open_loris()
            # At the bound a new client is refused at once, not queued.
            F.wait_until(refused, HEADER_TIMEOUT_S, "a client over max_connections to be refused")
            self.assertLessEqual(len(loris), MAX_CONNECTIONS + 4)
            # Every slow client is cut off by the server's own timeouts.
            for s in loris:
                self.assertFalse(read_to_close(s).startswith(b"HTTP/1.1 2"))
            held = time.monotonic() - started
            self.assertLess(held, max(HEADER_TIMEOUT_S, IDLE_TIMEOUT_S) + 5)
        finally:
            for s in loris:
                s.close()
        self.wait_for_capacity()
        self.assert_healthy()
        self.assertLess(rss_kib(self.cache.proc.pid) - rss_before, RSS_GROWTH_LIMIT_KIB)

    def test_ten_thousand_connections_opened_and_dropped_leave_memory_bounded(self):
        linger_rst = struct.pack("ii", 1, 0)

        def churn(count, batch=MAX_CONNECTIONS // 2):
            for start in range(0, count, batch):
                open_ = [connect(self.port) for _ in range(min(batch, count - start))]
                for i, s in enumerate(open_):
                    kind = (start + i) % 4
                    if kind == 1:
                        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost:")  # a partial request
                    elif kind == 2:
                        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")  # answer unread
                    if kind == 3 or kind == 2:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_rst)  # reset
                    s.close()

        churn(1000)  # warm-up: pools, caches and allocator arenas reach their working size
        self.wait_for_capacity()
        rss_before = rss_kib(self.cache.proc.pid)
        started = time.monotonic()
        churn(10000)
        elapsed = time.monotonic() - started
        self.wait_for_capacity()
        rss_after = rss_kib(self.cache.proc.pid)
        print("10000 connections in %.1f s; RSS %d -> %d KiB" % (elapsed, rss_before, rss_after))
        self.assertLess(rss_after - rss_before, RSS_GROWTH_LIMIT_KIB)
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
