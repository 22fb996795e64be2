# SPDX-License-Identifier: Apache-2.0
"""Checkpoints are linearizable registers, and stay so across kill -9
(RAFT-LITE §6.5, issue 11): concurrent clients save unique values to and
load three deployments' checkpoints through the CLI (naos-linload, Go),
while the node is killed and restarted; porcupine (naos-lincheck) then
checks the whole history. An acknowledged save lost in a crash, or a load
that returns an older value than one already acknowledged, fails it.
The harness's own tests (cluster-tests/linear, `go test`) show the checker
catches a stale read and a lost write."""
import json as jsonlib
import os
import shutil
import subprocess
import time
import unittest

from harness import NodeTest, within

LOAD = os.environ.get("NAOS_LINLOAD_BIN")
CHECK = os.environ.get("NAOS_LINCHECK_BIN")
ARTIFACTS = os.environ.get("NAOS_IT_ARTIFACTS")
KEYS = ["reg0", "reg1", "reg2"]


class Linear(NodeTest):

    def check(self, n, hist):
        html = n.path("history.html")
        p = subprocess.run([CHECK, "-timeout", "120s", "-html", html, hist],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0 and ARTIFACTS and os.path.exists(html):
            os.makedirs(ARTIFACTS, exist_ok=True)
            shutil.copy(html, os.path.join(ARTIFACTS, "linear-history.html"))
            shutil.copy(hist, os.path.join(ARTIFACTS, "linear-history.jsonl"))
        self.assertEqual(p.returncode, 0,
                         "not linearizable:\n%s%s" % (p.stdout, p.stderr))
        return p.stdout

    def test_checkpoints_linearizable_across_kill9(self):
        with self.node() as n:
            for k in KEYS:
                n.deploy(k, ["sleep", "1000"])
            hist = n.path("history.jsonl")
            # A load of fixed length, bounded in count too: crashes at 2 s
            # and 4 s, and at least 2 s of it after the last restart.
            t0 = time.monotonic()
            load = subprocess.Popen(
                [LOAD, "-cli", os.environ["NAOS_BIN"], "-run", n.run,
                 "-keys", ",".join(KEYS), "-clients", "4", "-ops", "20000",
                 "-duration", "%ds" % within(7), "-op-timeout", "%ds" % within(10),
                 "-out", hist],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                # Every save being answered at a crash is of unknown
                # outcome; every one acknowledged before must survive.
                restarted = []
                for at in (2.0, 4.0):
                    time.sleep(max(0.0, t0 + at - time.monotonic()))
                    n.kill9()
                    n.start_node()
                    restarted.append(time.monotonic() - t0)
                out, _ = load.communicate(timeout=within(120))
            finally:
                if load.poll() is None:
                    load.kill()
                    load.wait()
            self.assertEqual(load.returncode, 0, out)
            summary = self.check(n, hist)
            # The run did something worth checking: saves acknowledged
            # and loads answered on both sides of each crash.
            with open(hist) as f:
                recs = [jsonlib.loads(l) for l in f if l.strip()]
            edges = [0.0] + restarted + [1e9]
            for lo, hi in zip(edges, edges[1:]):
                span = [r for r in recs if lo <= r["call_ns"] / 1e9 < hi and
                        r["outcome"] == "ok"]
                self.assertTrue(any(r["op"] == "write" for r in span),
                                "no save acknowledged in %.1f..%.1f s: %s" %
                                (lo, hi, summary))
                self.assertTrue(any(r["op"] == "read" for r in span),
                                "no load answered in %.1f..%.1f s: %s" %
                                (lo, hi, summary))


if __name__ == "__main__":
    unittest.main()
