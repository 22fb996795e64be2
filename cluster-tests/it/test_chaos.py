# SPDX-License-Identifier: Apache-2.0
"""it_chaos: a short run of the chaos of issue 12 (chaos.py): five
founders, 8 deployments, 6 rounds taking each kind at least once (kill -9
of a node, a follower or the leader stopped past its lease, a node cut
off past its lease), each followed by every deployment running exactly
once; over the whole run no two runs of one deployment alive at once and
no checkpoint lost. The full run: cluster-tests/chaos/run.sh."""
import os
import sys
import time
import unittest

from chaos import Chaos


class ChaosTest(unittest.TestCase):
    def test_chaos_short(self):
        t0 = time.monotonic()
        seed = os.environ.get("NAOS_CHAOS_SEED")
        with Chaos(deployments=8, rounds=6, cover=True, hold=4.5,
                   seed=int(seed) if seed else None) as c:
            rep = c.run()
        took = time.monotonic() - t0
        sys.stderr.write("it_chaos: %d rounds in %.0f s\n" % (rep["rounds"],
                                                            took))
        self.assertEqual(rep["problems"], [])
        self.assertEqual(rep["rounds"], 6)
        self.assertEqual(rep["overlaps"], 0)


if __name__ == "__main__":
    unittest.main()
