"""The chaos soak, short: a few rounds of concurrent skopeo pulls of more images than the store
holds (eviction active, images pinned, environments registered, limits changed through the admin
API) while the upstream front injects faults at random and envcache is SIGKILLed at random
moments and restarted on the same store. After every round: `envcache verify` is clean, every
pull that succeeded had the pushed digests, everything served is the pushed bytes, usage is within
max_size, and the pins, environments, versions and limits are all still there.

SOAK_ROUNDS (default 10) and SOAK_SEED (default: from the clock, printed) change the run;
bench/soak.py runs it for a given duration."""

import os
import sys
import time
import unittest

import fixtures as F
import soak


class ChaosSoak(unittest.TestCase):
    def test_rounds_lose_and_corrupt_nothing(self):
        F.require_tool("skopeo")
        F.require_tool("docker-registry")
        F.envcache_binary()
        seed = int(os.environ.get("SOAK_SEED") or time.time_ns() % 1000000)
        rounds = int(os.environ.get("SOAK_ROUNDS") or 10)
        base = os.environ.get("ENVCACHE_IT_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        workdir = F.tempfile.mkdtemp(prefix="envcache-soak-", dir=base)
        self.addCleanup(F.shutil.rmtree, workdir, True)
        run = soak.Soak(workdir, seed, say=lambda line: print(line, flush=True))
        self.addCleanup(run.close)
        try:
            run.setup()
            for _ in range(rounds):
                run.run_round()
        except BaseException:
            print(run.summary(), "\n----- envcache log (tails) -----\n" + run.logs(), file=sys.stderr)
            raise
        print(run.summary(), flush=True)
        s = run.stats
        self.assertEqual(s["rounds"], rounds)
        self.assertEqual((s["wrong_digests"], s["served_corrupt"], s["verify_corrupt"], s["lost_records"]), (0, 0, 0, 0))
        # The soak tested something: faults were injected, envcache was killed, pulls got through.
        self.assertGreater(sum(run.front.faults.values()), 0)
        self.assertGreater(s["kills"], 0)
        self.assertGreater(s["pulls_ok"], 0)


if __name__ == "__main__":
    unittest.main()
