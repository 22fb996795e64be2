# SPDX-License-Identifier: Apache-2.0
"""Spec limits that cost memory, and names cut at a NUL (issue 9).

`--max-restarts 2000000000 --window 2000000000s` asked the node for a
32 GB allocation; 100,000 replicas were accepted; a name holding a NUL
byte was taken as its prefix (protobuf-c cuts strings at a NUL), so a
request to remove "ok\\0junk" removed "ok". Each is now refused with a
message naming what was wrong, from the CLI, from a YAML file and from a
request the CLI would never send (it_ctl_crafted), and nothing changes."""
import os
import subprocess
import unittest

from harness import NodeTest

CRAFTED = os.environ.get("NAOS_CRAFTED", "it_ctl_crafted")
INVALID = 1  # naos.v1.ErrorCode INVALID


def crafted(n, *args):
    p = subprocess.run([CRAFTED, "ipc://%s/ctl.sock" % n.run] +
                       [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p
    out = dict(line.split(" ", 1) for line in p.stdout.splitlines())
    return int(out["code"]), out.get("error", "")


class SpecLimits(NodeTest):

    def test_limits_refused_from_the_cli(self):
        with self.node() as n:
            for args, msg in (
                    (["--max-restarts", "2000000000", "--window",
                      "2000000000s"],
                     "--max-restarts: \"2000000000\" is not a whole number "
                     "from 0 to 1000000"),
                    (["--window", "2000000000s"],
                     "--window: \"2000000000s\" is not a whole number of "
                     "seconds from 1s to 86400s (24h)"),
                    (["--replicas", "100000"],
                     "--replicas: \"100000\" is not a number from 1 to "
                     "10000")):
                r = n.naos("deploy", "big", *args, "--", "sleep", "1")
                self.assertEqual(r.code, 100, r)
                self.assertIn(msg, r.err)
            n.write("big.yaml", "name: big\n"
                    "supervisor: {max_restarts: 5, window: 2000000000s}\n"
                    "command: [sleep, '1']\n", 0o644)
            r = n.naos("apply", "-f", n.path("big.yaml"))
            self.assertEqual(r.code, 100, r)
            self.assertIn("big.yaml:2:39: supervisor.window: must be at most "
                          "86400s (24h)", r.err)
            self.assertEqual(n.status()["deployments"], [])

    def test_limits_refused_from_a_crafted_request(self):
        with self.node() as n:
            code, err = crafted(n, "deploy", "big", 2000000000, 2000000000)
            self.assertEqual(code, INVALID, err)
            self.assertIn("big: window: must be at most 86400s (24h), got "
                          "2000000000s", err)
            code, err = crafted(n, "deploy", "big", 1000000000, 300)
            self.assertEqual(code, INVALID, err)
            self.assertIn("big: max_restarts: must be at most 1000000, got "
                          "1000000000", err)
            self.assertEqual(n.status()["deployments"], [])
            # At the limits: accepted, and the node does not grow for it.
            code, err = crafted(n, "deploy", "edge", 1000000, 86400)
            self.assertEqual(code, 0, err)
            n.wait_state("edge", "running")

    def test_name_cut_at_nul_is_refused(self):
        with self.node() as n:
            n.deploy("ok", ["sleep", "1000"])
            n.wait_state("ok", "running")
            code, err = crafted(n, "rm", "okXjunk")  # "ok\0junk"
            self.assertEqual(code, INVALID, err)
            self.assertIn("holds a NUL byte", err)
            # "ok" was not touched.
            self.assertEqual(n.dep("ok")["state"], "running")
            code, err = crafted(n, "rm", "ok")
            self.assertEqual(code, 0, err)


if __name__ == "__main__":
    unittest.main()
