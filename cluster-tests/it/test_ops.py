# SPDX-License-Identifier: Apache-2.0
"""What an operator reads (issue 10): idempotent stop/start with honest
messages, a kill after the shutdown grace named as such, `naos-node leave`
refused off-cluster, JSON errors, and `naos events` (numbered, filtered,
kept across node restarts, a cursor past the end meaning "nothing yet")."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import NODE_BIN, NodeTest, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")

# A worker that ignores SIGTERM: only the SIGKILL after its grace ends it.
STUBBORN = ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]


class Messages(NodeTest):

    def test_stop_stopped_and_start_running_are_done_already(self):
        with self.node() as n:
            n.deploy("researcher", ["sleep", "1000"])
            n.wait_state("researcher", "running")
            r = n.naos("start", "researcher")
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher is already running", r.out)
            n.ok("stop", "researcher")
            n.wait_state("researcher", "stopped")
            r = n.naos("stop", "researcher")
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher is already stopped", r.out)
            self.assertNotIn("cannot", r.out + r.err)

    def test_stop_says_stopping_until_the_grace_is_over(self):
        with self.node() as n:
            n.deploy("stub", STUBBORN, "--shutdown", "2s")
            n.wait_running_pid("stub/stub")
            t0 = time.monotonic()
            r = n.ok("stop", "stub")
            # the worker ignores SIGTERM: it is still stopping
            self.assertIn("stopping stub", r.out)
            self.assertNotIn("stopped stub", r.out)
            self.assertEqual(n.dep("stub")["state"], "stopping")
            r = n.naos("stop", "stub")
            self.assertEqual(r.code, 0, r)
            self.assertIn("stub is already stopping", r.out)
            n.wait_state("stub", "stopped", timeout=10)
            self.assertGreaterEqual(time.monotonic() - t0, 1.5)
            w = n.node_at("stub/stub")
            # it said "shutdown": a kill after the grace is not one
            self.assertEqual(w["last_exit"]["reason"],
                             "killed after 2s grace", w)
            kills = n.events(kind="kill", path="stub/stub")
            self.assertEqual(len(kills), 1, kills)
            self.assertEqual(kills[0]["reason"], "killed after 2s grace")

    def test_leave_off_cluster_is_refused_and_changes_nothing(self):
        with self.node() as n:
            n.deploy("keep", ["sleep", "1000"])
            pid = n.wait_running_pid("keep/keep")
            p = subprocess.run([NODE_BIN, "leave", "--run", n.run],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 100, p)
            self.assertIn("not in a cluster", p.stderr)
            self.assertIn("nothing changed", p.stderr)
            self.assertIn("SIGTERM", p.stderr)
            # still serving, and the agent still runs the same process
            self.assertIsNone(n.proc.poll())
            self.assertEqual(n.ok("ping").code, 0)
            self.assertEqual(n.node_at("keep/keep")["pid"], pid)
            self.assertEqual(n.dep("keep")["state"], "running")

    def test_json_errors_from_the_node(self):
        with self.node() as n:
            r = n.naos("stop", "ghost", json=True)
            self.assertEqual(r.code, 100, r)
            doc = json.loads(r.err)
            self.assertEqual(doc["code"], 100)
            self.assertEqual(doc["status"], "not-found")
            self.assertIn("no deployment named ghost", doc["error"])
            self.assertEqual(r.out, "")

    def test_help_and_readme_agree_on_detection_times(self):
        p = subprocess.run([NODE_BIN, "--help"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        helptext = " ".join(p.stdout.split())
        # the figures of node/swim/swim.h's table
        for fig in ("~0.4 s", "~7-11 s", "~2.4 s", "~40-60 s", "~0.2 s",
                    "~5-7 s"):
            self.assertIn(fig, helptext)
        with open(README) as f:
            text = " ".join(f.read().split())
        i = text.index("`--profile lan` (default)")
        para = text[i:i + 400]
        self.assertIn("naos-node --help", para)
        # the README gives no figures of its own to drift from the help's
        self.assertIsNone(re.search(r"\d s\b", para), para)


if __name__ == "__main__":
    unittest.main()
