# SPDX-License-Identifier: Apache-2.0
"""it_chaos: a short run of the chaos of issue 12 (chaos.py): five
founders, 8 deployments, 6 rounds taking each kind at least once (kill -9
of a node, a follower or the leader stopped past its lease, a node cut
off past its lease), each followed by every deployment running exactly
once; over the whole run no two runs of one deployment alive at once and
no checkpoint lost. The full run: cluster-tests/chaos/run.sh.

Also: the run's checks catch what they are for, on planted records (two
runs overlapping by one heartbeat, a run that loads less than an earlier
one saved)."""
import io
import os
import shutil
import sys
import tempfile
import time
import unittest

from chaos import Chaos, Track


class ChaosTest(unittest.TestCase):
    def test_chaos_short(self):
        t0 = time.monotonic()
        seed = os.environ.get("NAOS_CHAOS_SEED")
        with Chaos(deployments=8, rounds=6, cover=True, hold=4.5,
                   seed=int(seed) if seed else None) as c:
            rep = c.run()
        sys.stderr.write("it_chaos: %d rounds in %.0f s\n" %
                         (rep["rounds"], time.monotonic() - t0))
        self.assertEqual(rep["problems"], [])
        self.assertEqual(rep["rounds"], 6)
        self.assertEqual(rep["overlaps"], 0)

    def test_checks_catch_planted_faults(self):
        d = tempfile.mkdtemp(prefix="nchaosck", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        hb, ck = os.path.join(d, "hb"), os.path.join(d, "ck")
        ms = 1_000_000
        with open(hb, "w") as f:  # run 2 beats once before run 1's last
            for t in range(0, 100, 20):
                f.write("1 k0 5 %d\n" % (t * ms))
            f.write("2 k1 9 %d\n" % (70 * ms))
            f.write("2 k1 9 %d\n" % (120 * ms))
        with open(ck, "w") as f:  # run 2 loads 3, run 1 had saved 4
            f.write("load 1 k0 5 0 - %d -\n" % ms)
            f.write("save 1 k0 5 4 ok %d -\n" % (50 * ms))
            f.write("save 1 k0 5 5 stale %d stale epoch\n" % (60 * ms))
            f.write("load 2 k1 9 3 - %d -\n" % (71 * ms))
        c = Chaos(deployments=1, out=io.StringIO())
        c.tracks = {"c00": Track("c00", hb, ck)}
        gap, bad = c.overlaps()
        self.assertAlmostEqual(gap, -0.01)
        self.assertEqual(len(bad), 1, bad)
        self.assertIn("1 k0 5 80000000", bad[0])  # the offending lines
        counts, _, lost = c.checkpoints()
        self.assertEqual(counts["save stale"], 1)
        self.assertEqual(len(lost), 1, lost)
        self.assertIn("loaded 3, but run 1 had saved 4", lost[0])


if __name__ == "__main__":
    unittest.main()
