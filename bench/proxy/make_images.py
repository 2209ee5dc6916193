#!/usr/bin/env python3
"""Writes the proxy benchmark's images as one OCI image layout, without docker.

Every layer is a gzip'd tar holding one file of seeded pseudo-random bytes, so the same
command writes byte-identical blobs (and digests) on every machine. Python 3 stdlib only.

usage: make_images.py OUT_DIR        (prints one line per image: "repo tag manifest_digest")
"""

import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"

# (repository, tag, [(layer seed, size of the file inside the layer)]).
# Layers sharing a seed are the same blob (a shared base layer across the cold-pull set).
IMAGES = [
    # Blobs under 1 MiB: eight layers plus the config, for the small-blob req/s test.
    ("bench/small", "v1", [(f"small-{n}", n * KiB) for n in (2, 8, 32, 64, 128, 256, 512, 900)]),
    # Blobs over 16 MiB, for the large-blob MB/s test.
    ("bench/large", "v1", [("large-64", 64 * MiB), ("large-32", 32 * MiB)]),
    # The 1 GiB blob of the RSS test.
    ("bench/huge", "v1", [("huge-1g", 1 * GiB)]),
    # Three 512 MiB blobs, downloaded cold while manifest hits are timed (p99 under downloads).
    ("bench/cold512", "v1", [(f"cold512-{i}", 512 * MiB) for i in range(3)]),
] + [
    # The cold-pull set: five images sharing a 16 MiB base layer, each with its own layers.
    (f"bench/cold{i}", "v1",
     [("cold-base", 16 * MiB), (f"cold{i}-a", 256 * KiB), (f"cold{i}-b", 2 * MiB),
      (f"cold{i}-c", 8 * MiB), (f"cold{i}-d", 24 * MiB)])
    for i in range(5)
]

# Bigger layers are stored (gzip level 0): random bytes do not compress and level 1 on a
# gigabyte would dominate the preparation time.
STORE_ONLY_ABOVE = 4 * MiB


class SeededReader:
    """A file-like object yielding `size` deterministic pseudo-random bytes."""

    def __init__(self, seed, size):
        self.rng = random.Random(seed)
        self.left = size

    def read(self, n=-1):
        if n is None or n < 0 or n > self.left:
            n = self.left
        self.left -= n
        return self.rng.randbytes(n) if n else b""


class HashingWriter:
    """Passes writes on to `sink` (if any) and hashes and counts them."""

    def __init__(self, sink=None):
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)

    def flush(self):
        if self.sink is not None:
            self.sink.flush()


def blob_path(out, digest):
    return os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])


def put_bytes(out, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(out, digest)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    return digest, len(data)


def make_layer(out, seed, size, cache):
    """Writes the layer blob once per seed; returns (descriptor, diff_id)."""
    if seed in cache:
        return cache[seed]
    tmp = os.path.join(out, "blobs", "sha256", f".layer-{seed}.tmp")
    with open(tmp, "wb") as raw:
        compressed = HashingWriter(raw)
        level = 0 if size > STORE_ONLY_ABOVE else 1
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=level, mtime=0) as gz:
            uncompressed = HashingWriter(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(f"bench/{seed}.bin")
                info.size = size
                info.mtime = 0
                info.mode = 0o644
                tar.addfile(info, SeededReader(f"envcache-bench/{seed}", size))
    digest = "sha256:" + compressed.sha.hexdigest()
    os.rename(tmp, blob_path(out, digest))
    result = (
        {"mediaType": LAYER_MEDIA_TYPE, "digest": digest, "size": compressed.size},
        "sha256:" + uncompressed.sha.hexdigest(),
    )
    cache[seed] = result
    return result


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    cache = {}
    index = []
    for repo, tag, layers in IMAGES:
        descriptors, diff_ids = [], []
        for seed, size in layers:
            desc, diff_id = make_layer(out, seed, size, cache)
            descriptors.append(desc)
            diff_ids.append(diff_id)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"envcache.bench.image": repo}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        cfg_digest, cfg_size = put_bytes(out, canonical(config))
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": cfg_digest, "size": cfg_size},
            "layers": descriptors,
        }
        man_digest, man_size = put_bytes(out, canonical(manifest))
        index.append({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": man_digest,
            "size": man_size,
            "annotations": {"org.opencontainers.image.ref.name": f"{repo.replace('/', '_')}_{tag}"},
        })
        print(repo, tag, man_digest)
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                           "manifests": index}))


if __name__ == "__main__":
    main()
