"""Real container runtimes pull through envcache configured as a registry mirror: containerd
(`ctr` with a hosts.toml mirror, which sends ?ns=) and podman (a registries.conf mirror, with and
without the upstream's name as a path prefix). The upstream's name does not resolve, so a pull can
only succeed through envcache."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import fixtures as F

UPSTREAM_NAME = "upstream.test"
CLIENT_TIMEOUT_S = 180


def require_root(tool):
    if os.geteuid() != 0:
        raise unittest.SkipTest("%s needs root to run with its own root directories" % tool)


def run(cmd, env=None, check=True):
    proc = subprocess.run(cmd, capture_output=True, timeout=CLIENT_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(
            "%s failed (%d):\n%s\n%s"
            % (" ".join(cmd), proc.returncode, proc.stdout.decode(errors="replace")[-4000:], proc.stderr.decode(errors="replace")[-4000:])
        )
    return proc


def start_containerd(case, containerd):
    """Starts containerd with its own root, state and socket (stopped in case's cleanups);
    returns (its directory, its socket)."""
    # Unix socket paths are limited to 108 bytes: keep containerd's directory short.
    d = tempfile.mkdtemp(prefix="ctd-")
    case.addCleanup(shutil.rmtree, d, True)
    sock = os.path.join(d, "containerd.sock")
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write(
            'version = 2\n'
            'root = "{d}/root"\n'
            'state = "{d}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            '[grpc]\n  address = "{d}/containerd.sock"\n'
            '[ttrpc]\n  address = "{d}/containerd.sock.ttrpc"\n'
            '[plugins."io.containerd.internal.v1.opt"]\n  path = "{d}/opt"\n'.format(d=d)
        )
    log_path = os.path.join(d, "containerd.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [containerd, "--config", cfg],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    case.addCleanup(F.kill_process_group, proc)
    case._logs.append(("containerd", lambda: open(log_path, "rb").read()[-8000:].decode(errors="replace")))
    F.wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, F.STARTUP_DEADLINE_S, "containerd's socket")
    if proc.poll() is not None:
        case.fail("containerd exited at start-up (%d)" % proc.returncode)
    return d, sock


def podman_dirs(case):
    """A directory with podman's own storage, config and signature policy (removed in case's
    cleanups); returns it and the environment that points podman at it (registries.conf is
    for the caller to write)."""
    d = tempfile.mkdtemp(prefix="podman-")
    case.addCleanup(shutil.rmtree, d, True)
    for name in ("root", "run", "tmp"):
        os.makedirs(os.path.join(d, name))
    with open(os.path.join(d, "containers.conf"), "w") as f:
        f.write('[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n')
    with open(os.path.join(d, "storage.conf"), "w") as f:
        f.write('[storage]\ndriver = "vfs"\nrunroot = "{d}/run"\ngraphroot = "{d}/root"\n'.format(d=d))
    with open(os.path.join(d, "policy.json"), "w") as f:
        json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    env = dict(
        os.environ,
        CONTAINERS_CONF=os.path.join(d, "containers.conf"),
        CONTAINERS_STORAGE_CONF=os.path.join(d, "storage.conf"),
        CONTAINERS_REGISTRIES_CONF=os.path.join(d, "registries.conf"),
    )
    return d, env


def write_registries_conf(env, mirror_location, insecure=True):
    """A registries.conf (at env's CONTAINERS_REGISTRIES_CONF) with envcache as the mirror of
    UPSTREAM_NAME; `insecure`: plain HTTP."""
    with open(env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
        f.write(
            'unqualified-search-registries = []\n\n'
            '[[registry]]\nprefix = "{n}"\nlocation = "{n}"\n\n'
            '[[registry.mirror]]\nlocation = "{m}"\n{i}'.format(
                n=UPSTREAM_NAME, m=mirror_location, i="insecure = true\n" if insecure else "")
        )


def podman_cmd(podman, d, env, *args):
    return [
        podman,
        "--root", d + "/root",
        "--runroot", d + "/run",
        "--tmpdir", d + "/tmp",
        "--storage-driver", "vfs",
        "--registries-conf", env["CONTAINERS_REGISTRIES_CONF"],
    ] + list(args)


class ClientTestCase(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.start_stack(which={"envs/app", "envs/multi"}, name=UPSTREAM_NAME)

    def expected_blobs(self, obj):
        """Config and layers a linux/amd64 client downloads for this image."""
        if isinstance(obj, F.Index):
            obj = next(img for img in obj.images if img.arch == "amd64")
        return {b.digest for b in obj.blobs()}

    def assert_pulled_through_cache(self, pulled):
        gets = self.upstream.blob_gets()
        expected = set()
        for obj in pulled:
            expected |= self.expected_blobs(obj)
        self.assertEqual(gets, {d: 1 for d in expected})


class Containerd(ClientTestCase):
    def setUp(self):
        self.containerd = F.require_tool("containerd")
        self.ctr = F.require_tool("ctr")
        require_root("containerd")
        super().setUp()
        self.dir, self.sock = start_containerd(self, self.containerd)
        self.hosts_dir = os.path.join(self.dir, "hosts")
        os.makedirs(os.path.join(self.hosts_dir, UPSTREAM_NAME))
        with open(os.path.join(self.hosts_dir, UPSTREAM_NAME, "hosts.toml"), "w") as f:
            f.write(
                'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n'
                % (UPSTREAM_NAME, self.cache.hostport)
            )

    def ctr_cmd(self, *args):
        return [self.ctr, "--address", self.sock, "--namespace", "envcache-test"] + list(args)

    def test_ctr_pulls_through_a_hosts_toml_mirror(self):
        pulled = []
        for repo, tag, obj in (("envs/app", "1.0", self.images.app), ("envs/multi", "latest", self.images.multi)):
            ref = "%s/%s:%s" % (UPSTREAM_NAME, repo, tag)
            run(self.ctr_cmd("image", "pull", "--hosts-dir", self.hosts_dir, "--snapshotter", "native", ref))
            pulled.append(obj)
            out = run(self.ctr_cmd("image", "ls")).stdout.decode()
            line = next((l for l in out.splitlines() if l.startswith(ref + " ")), "")
            self.assertIn(obj.manifest.digest, line, out)
        self.assert_pulled_through_cache(pulled)


class Podman(ClientTestCase):
    def setUp(self):
        self.podman = F.require_tool("podman")
        require_root("podman")
        super().setUp()
        self.dir, self.env = podman_dirs(self)

    def write_registries_conf(self, mirror_location):
        write_registries_conf(self.env, mirror_location)

    def podman_cmd(self, *args):
        return podman_cmd(self.podman, self.dir, self.env, *args)

    def pull_and_check(self):
        pulled = []
        for repo, tag, obj in (("envs/app", "1.0", self.images.app), ("envs/multi", "latest", self.images.multi)):
            ref = "%s/%s:%s" % (UPSTREAM_NAME, repo, tag)
            run(self.podman_cmd("pull", "--signature-policy", os.path.join(self.dir, "policy.json"), ref), env=self.env)
            pulled.append(obj)
            digest = run(self.podman_cmd("image", "inspect", "--format", "{{.Digest}}", ref), env=self.env).stdout.decode().strip()
            self.assertEqual(digest, obj.manifest.digest)
        self.assert_pulled_through_cache(pulled)

    def test_podman_pulls_through_a_registries_conf_mirror(self):
        self.write_registries_conf(self.cache.hostport)
        self.pull_and_check()

    def test_podman_pulls_through_a_mirror_with_the_upstream_name_as_path(self):
        # podman then asks for /v2/upstream.test/envs/app/...: routed by the first path component.
        self.write_registries_conf("%s/%s" % (self.cache.hostport, UPSTREAM_NAME))
        self.pull_and_check()


if __name__ == "__main__":
    unittest.main()
