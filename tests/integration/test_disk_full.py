"""Disk full, two ways:

- tmpfs: envcache's store on a small file system (a size-limited tmpfs mounted by the test) that
  a filler file nearly fills. Needs mount(2) (root, and a container that allows it); skipped,
  saying why, where it is denied.
- map: a store whose LMDB map (`storage.map_size`) is too small for what is pulled; runs
  everywhere.

Either way, under concurrent skopeo pulls of images that no longer fit, each client gets the
pushed bytes or a clean error (no digest mismatch, no hang), an image already stored keeps being
served from the store, envcache stays up, and once space is free again (filler deleted, or blobs
evicted through the admin API) new blobs are stored (a second pull reaches the upstream for no
blob); `envcache verify` is clean at the end."""

import os
import re
import subprocess
import threading
import unittest

import fixtures as F

FS_SIZE = 40 << 20
LEFT_FREE = 1 << 20  # what the filler leaves: less than any image's layers
MAP_SIZE = 8 << 20  # the hot image and about one new one


def try_mount_tmpfs(path, size):
    """Mounts a tmpfs of `size` bytes at path; None, or why it could not."""
    os.makedirs(path, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size, "tmpfs", path],
        capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
    )
    if proc.returncode != 0:
        return proc.stderr.decode(errors="replace").strip() or "mount exited %d" % proc.returncode
    return None


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, stdin=subprocess.DEVNULL, timeout=30)


def fill(path, leave):
    """Writes a file that leaves about `leave` bytes free on path's file system."""
    st = os.statvfs(os.path.dirname(path))
    size = max(0, st.f_bavail * st.f_frsize - leave)
    block = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        while size > 0:
            n = min(size, len(block))
            f.write(block[:n])
            size -= n
    return size


class DiskFull(F.EnvcacheTestCase):
    def start(self, storage_extra=""):
        self.registry = self.start_registry(self.workdir)
        self.hot = F.Image([F.make_layer(300, 2 << 20), F.make_layer(301, 512 << 10)], label="hot")
        F.push(self.workdir, self.registry.hostport, "full/hot", "1", self.hot)
        self.new = []
        for i in range(4):
            image = F.Image([F.make_layer(310 + 2 * i, 3 << 20), F.make_layer(311 + 2 * i, 1 << 20)], label="new%d" % i)
            F.push(self.workdir, self.registry.hostport, "full/new%d" % i, "1", image)
            self.new.append(("full/new%d" % i, image))
        self.upstream = self.start_proxy(self.registry)
        self.cache = self.start_envcache(
            self.workdir, self.upstream.url, max_size="1GiB", storage_extra=storage_extra,
            upstream_extra=", connect_timeout: 2s, read_timeout: 5s, retries: 1",
        )

    def pull_result(self, repo, image, name):
        """(ok, problem): ok with the pushed digests, or a clean failure (problem says which)."""
        out = os.path.join(self.workdir, "pull-" + name)
        try:
            proc = F.pull(self.cache.hostport, repo, "1", out, check=False, timeout=120)
        except subprocess.TimeoutExpired:
            return False, "hang: skopeo still waiting after 120 s"
        try:
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace")
                return False, ("bad bytes: " if re.search(r"digest", err, re.I) else "clean: ") + err[-300:]
            got = (F.layout_top_digest(out), F.layout_blob_digests(out))
            want = (image.manifest.digest, {b.digest for b in image.all_blobs()})
            return True, None if got == want else "wrong digests: %r" % (got,)
        finally:
            F.shutil.rmtree(out, ignore_errors=True)

    def test_full_tmpfs_serves_hits_fails_cleanly_and_recovers(self):
        F.require_tool("skopeo")
        self.workdir = self.make_workdir()
        data = os.path.join(self.workdir, "envcache-data")  # Envcache's storage.path
        why = try_mount_tmpfs(data, FS_SIZE)
        if why is not None:
            raise unittest.SkipTest("cannot mount a small tmpfs for the store: " + why)
        self.addCleanup(umount, data)
        print("disk full: the store on a %d MiB tmpfs" % (FS_SIZE >> 20), flush=True)
        self.start()
        ok, problem = self.pull_result("full/hot", self.hot, "hot-first")
        self.assertTrue(ok and problem is None, problem)
        filler = os.path.join(data, "filler")
        fill(filler, LEFT_FREE)
        self.pull_concurrently(len(self.new))
        self.assertIn("No space left on device", self.cache.log())  # the disk was full indeed
        # Space again: new blobs are stored.
        os.unlink(filler)
        self.check_stored_after(self.new)

    def test_full_map_serves_hits_fails_cleanly_and_recovers(self):
        F.require_tool("skopeo")
        self.workdir = self.make_workdir()
        print("disk full: the store in a %d MiB LMDB map" % (MAP_SIZE >> 20), flush=True)
        self.start(storage_extra=", map_size: %d" % MAP_SIZE)
        ok, problem = self.pull_result("full/hot", self.hot, "hot-first")
        self.assertTrue(ok and problem is None, problem)
        status, _h, body = self.cache.request(
            "POST", "/api/v1/admin/pins", {"Content-Type": "application/json"},
            b'{"pin": "upstream.test/full/hot:1"}')
        self.assertEqual(status, 201, body)
        # The map holds the hot image and about one more: the others find it full. A full map
        # does not stop clients, who are served from the spool (on a disk with room).
        self.pull_concurrently(0)
        self.assertIn("store map is full", self.cache.log())  # the map was full indeed
        status, _h, body = self.cache.request(
            "POST", "/api/v1/admin/evict", {"Content-Type": "application/json"}, b'{"target_size": 0}')
        self.assertEqual(status, 200, body)
        self.check_stored_after(self.new[:1])

    def pull_concurrently(self, may_fail):
        """Pulls every new image and the hot one three times, at once: the hot pulls succeed,
        the others give the pushed bytes or fail cleanly, at most `may_fail` of them."""
        results = []
        lock = threading.Lock()

        def run(repo, image, name):
            r = self.pull_result(repo, image, name)
            with lock:
                results.append((repo, name) + r)

        jobs = [(repo, image, "full-%s" % repo.replace("/", "_")) for repo, image in self.new]
        jobs += [("full/hot", self.hot, "full-hot-%d" % i) for i in range(3)]
        threads = [threading.Thread(target=run, args=job, daemon=True) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        self.assertEqual(len(results), len(jobs), "a pull did not finish")
        new_ok = 0
        for repo, name, ok, problem in results:
            with self.subTest(pull=name):
                if repo == "full/hot":
                    self.assertTrue(ok, "a stored image must still be served: %s" % problem)
                if ok:
                    self.assertIsNone(problem)  # success means the pushed bytes
                    new_ok += repo != "full/hot"
                else:
                    self.assertTrue(problem.startswith("clean: "), problem)
        print("disk full: %d of %d new images pulled with the store full, the rest failed cleanly; "
              "3 of 3 pulls of the stored image served" % (new_ok, len(self.new)), flush=True)
        self.assertGreaterEqual(new_ok, len(self.new) - may_fail)
        status, _h, _b = self.cache.request("GET", "/v2/")
        self.assertEqual(status, 200)

    def check_stored_after(self, images):
        """With room again, pulls of `images` are stored (a second pull costs the upstream no
        blob), and the store verifies clean after a clean stop."""
        for repo, image in images:
            ok, problem = self.pull_result(repo, image, "after-" + repo.replace("/", "_"))
            self.assertTrue(ok and problem is None, "%s after space was freed: %s" % (repo, problem))
        self.upstream.reset()
        for repo, image in images:
            ok, problem = self.pull_result(repo, image, "again-" + repo.replace("/", "_"))
            self.assertTrue(ok and problem is None, problem)
        self.assertEqual(self.upstream.blob_gets(), {}, "blobs pulled after the disk had room are stored")

        self.assertEqual(self.cache.stop(), 0)
        verify = subprocess.run(
            [F.envcache_binary(), "verify", "--config", os.path.join(self.workdir, "envcache.yml")],
            capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn(b" 0 corrupt", verify.stdout)


if __name__ == "__main__":
    unittest.main()
