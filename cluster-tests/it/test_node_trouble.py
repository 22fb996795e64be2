# SPDX-License-Identifier: Apache-2.0
"""A node's own trouble does not burn an agent's restart intensity (issue
9): while the node cannot spawn for its own reasons (out of descriptors:
EMFILE), restarts and initial starts wait and retry with backoff instead of
counting against max_restarts; the trouble shows as node-trouble events,
in /metrics and in the node's health (`naos nodes`); when the node has
descriptors again, everything runs and nothing is `failed`.

The node runs with it_fault_spawn preloaded: while RUN/../emfile exists,
pidfd_open fails with EMFILE, as it does when the node's descriptor table
is full (an attacker holding 600 connections on a 512-fd node, in the
issue). Before the fix the victim's restart (1 of max 1) and its first
retry (2 > 1) gave up at once and the deployment stayed failed, and the
pool failed its initial start."""
import os
import signal
import unittest

import promtext

from harness import Node, NodeTest, pid_gone, wait_until

FAULT_LIB = os.environ.get("NAOS_IT_FAULT_LIB", "")


class TroubleNode(Node):
    """A Node whose naos-node has the spawn fault shim preloaded."""

    def start_node(self):
        self.fault = os.path.join(self.dir, "emfile")
        self.env["LD_PRELOAD"] = FAULT_LIB
        self.env["NAOS_IT_FAULT_FILE"] = self.fault
        # a sanitizer runtime must otherwise come first in the library list
        asan = self.env.get("ASAN_OPTIONS", "")
        self.env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
            "verify_asan_link_order=0"
        super().start_node()

    def trouble(self, on):
        if on:
            open(self.fault, "w").close()
        else:
            os.unlink(self.fault)


def metric(n, name, **labels):
    code, _, body = n.http("GET", "/metrics")
    assert code == 200, code
    fams = promtext.parse(body.decode())
    for _, got, value in fams[name]["samples"]:
        if all(got.get(k) == v for k, v in labels.items()):
            return value
    raise AssertionError("no %s%r" % (name, labels))


@unittest.skipUnless(FAULT_LIB, "NAOS_IT_FAULT_LIB (it_fault_spawn) not set")
class NodeTrouble(NodeTest):

    def test_emfile_is_the_nodes_trouble_not_the_agents(self):
        with TroubleNode(self) as n:
            n.deploy("victim", ["sleep", "1000"], "--max-restarts", "1",
                     "--window", "300s")
            pid = n.wait_running_pid("victim/victim")

            n.trouble(True)
            os.kill(pid, signal.SIGKILL)
            # Not one retry, several: before the fix the first retry was
            # already the second restart of a max of 1.
            wait_until(lambda: len(n.events("node-trouble",
                                            "victim/victim")) >= 3,
                       timeout=30, msg="three node-trouble retries")
            d = n.dep("victim")
            self.assertNotEqual(d["state"], "failed", d)
            w = n.node_at("victim/victim")
            self.assertEqual(w["state"], "restarting", w)
            self.assertEqual(w["restarts"], 1, w)
            ev = n.events("node-trouble", "victim/victim")[0]
            self.assertEqual(ev["reason"], "spawn-failed:EMFILE", ev)
            self.assertIn("not counted", ev["detail"], ev)

            # An initial start in trouble waits too, in order.
            n.deploy("pool", ["sleep", "1000"], "--replicas", "3")
            wait_until(lambda: n.events("node-trouble", "pool/pool-1"),
                       timeout=30, msg="pool-1 waits out the trouble")
            self.assertNotEqual(n.dep("pool")["state"], "failed")

            # Shown in the node's health and in /metrics.
            nodes = n.ok("nodes", json=True).data["nodes"]
            self.assertEqual(nodes[0]["health"]["agents_node_trouble"], 2,
                             nodes)
            self.assertIn("2 held by node trouble", n.ok("nodes").out)
            self.assertGreaterEqual(
                metric(n, "naos_node_trouble_total", reason="EMFILE"), 4)
            self.assertEqual(metric(n, "naos_agents_node_trouble"), 2)

            # The trouble ends: everything runs, nothing failed, and the
            # victim's intensity holds its one crash only.
            n.trouble(False)
            n.wait_state("victim", "running", timeout=30)
            n.wait_state("pool", "running", timeout=30)
            self.assertEqual(n.node_at("victim/victim")["restarts"], 1)
            self.assertEqual(n.events("give-up"), [])
            self.assertEqual(n.events("escalate"), [])
            self.assertEqual(metric(n, "naos_agents_node_trouble"), 0)
            self.assertEqual(
                metric(n, "naos_supervisor_restarts_in_window",
                       deployment="victim", supervisor="victim"), 1)
            nodes = n.ok("nodes", json=True).data["nodes"]
            self.assertEqual(nodes[0]["health"]["agents_node_trouble"], 0)

            # The agent's own failure is still its own: a crash now is the
            # second restart within the window, more than 1.
            pid = n.wait_running_pid("victim/victim")
            os.kill(pid, signal.SIGKILL)
            n.wait_state("victim", "failed", timeout=30)
            self.assertEqual(len(n.events("give-up")), 1)
            wait_until(lambda: pid_gone(pid), msg="victim gone")


if __name__ == "__main__":
    unittest.main()
