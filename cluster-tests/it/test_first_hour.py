# SPDX-License-Identifier: Apache-2.0
"""What a new user meets first on one node (issue 10): relative paths
resolved where `naos` runs, the project file (naos.yaml), deploy and apply
waiting for the first start and rolling a failed one back, one default
intensity, and a failed deployment staying failed across a node restart."""
import os
import signal
import unittest

from harness import NodeTest, find_node, wait_until

# A worker that survives its first run long enough to pass deploy's wait,
# then crashes at once on every later run. $1: the file counting runs.
CRASH_LATER = r'''#!/bin/sh
echo run >> "$1"
[ -e "$1.first" ] || { : > "$1.first"; sleep 2; }
exit 3
'''


class DefaultIntensity(NodeTest):

    def test_tree_file_and_deploy_share_5_in_300s(self):
        with self.node() as n:
            n.apply("name: tree\n"
                    "children:\n"
                    "  - {id: a, command: [sleep, '1000']}\n"
                    "  - id: grp\n"
                    "    children: [{id: b, command: [sleep, '1000']}]\n")
            n.deploy("flags", ["sleep", "1000"])
            tree = n.dep("tree")["tree"]
            grp = find_node(tree, "tree/grp")
            flags = n.dep("flags")["tree"]
            for sup in (tree, grp, flags):
                self.assertEqual((sup["max_restarts"], sup["window_s"]),
                                 (5, 300), sup["path"])
            # documented once, with the same numbers, in both help texts
            for cmd in ("deploy", "apply"):
                out = n.ok(cmd, "--help").out
                self.assertIn("5 restarts in 300s", " ".join(out.split()),
                              cmd)


class FailedStaysFailed(NodeTest):

    def test_failed_deployment_is_not_restarted_by_a_node_restart(self):
        with self.node() as n:
            agent = n.write("crash.sh", CRASH_LATER)
            runs = n.path("runs")
            n.deploy("storm", [agent, runs], "--max-restarts", "2",
                     "--window", "60s")
            d = n.wait_state("storm", "failed", timeout=15)
            self.assertIn("max restart intensity", d["failure"])
            self.assertEqual(len(n.lines("runs")), 3)  # 1 + 2 restarts

            for sig in (signal.SIGTERM, signal.SIGKILL):
                n.stop_node(sig)
                n.start_node()
                # restored before the node answers: failed, nothing started
                d = n.dep("storm")
                self.assertEqual(d["state"], "failed", d)
                self.assertIn("max restart intensity", d["failure"])
                self.assertEqual(n.events("start"), [])
                self.assertEqual(len(n.lines("runs")), 3)

            # the operator's start clears it: it runs (and crashes) again
            n.ok("start", "storm")
            wait_until(lambda: len(n.lines("runs")) >= 4, 10,
                       msg="a run after naos start")


if __name__ == "__main__":
    unittest.main()
