#!/usr/bin/env python3
"""The chaos soak for as long as asked: the rounds of tests/integration/test_soak.py (same code,
tests/integration/soak.py) until DURATION has passed (counted from the end of the set-up), then the totals. Exit status 0 when every
round's checks held, 1 at the first round whose checks failed (its seed and the envcache log tail
are printed), 2 on a usage error.

usage: bench/soak/soak.py DURATION [--seed N] [--workers N] [--fault-rate F] [--kill-chance P]
DURATION: seconds, or a number with s, m or h (90s, 30m, 2h).
ENVCACHE_BIN names the envcache binary (default build/release/proxy/envcache); skopeo and
docker-registry must be installed (make deps-test).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import soak  # noqa: E402


def duration(text):
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a duration: %r (use 90, 90s, 30m, 2h)" % text)


def main():
    parser = argparse.ArgumentParser(description="envcache chaos soak for a duration")
    parser.add_argument("duration", type=duration)
    parser.add_argument("--seed", type=int, default=time.time_ns() % 1000000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--kill-chance", type=float, default=0.6)
    args = parser.parse_args()
    os.environ.setdefault("ENVCACHE_BIN", os.path.join(ROOT, "build", "release", "proxy", "envcache"))
    workdir = tempfile.mkdtemp(prefix="envcache-soak-")
    run = soak.Soak(workdir, args.seed, workers=args.workers, fault_rate=args.fault_rate,
                    kill_chance=args.kill_chance, say=lambda line: print(line, flush=True))
    started = time.monotonic()
    code = 0
    try:
        run.setup()
        started = time.monotonic()  # DURATION counts the rounds, not the set-up
        while time.monotonic() - started < args.duration:
            run.run_round()
    except AssertionError as e:
        print("FAILED: %s\n----- envcache log (tails) -----\n%s" % (e, run.logs()), file=sys.stderr)
        code = 1
    finally:
        run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print("%s; %.0f s" % (run.summary(), time.monotonic() - started))
    return code


if __name__ == "__main__":
    sys.exit(main())
