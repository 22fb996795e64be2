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
import time
import unittest

import promtext

from harness import (NAOS_BIN, NOTIFY_PY, Node, NodeTest, pid_alive,
                     pid_gone, wait_until, within)

FAULT_LIB = os.environ.get("NAOS_IT_FAULT_LIB", "")


class TroubleNode(Node):
    """A Node whose naos-node has the spawn fault shim preloaded."""

    def start_node(self):
        self.fault = os.path.join(self.dir, "emfile")
        self.slow_file = os.path.join(self.dir, "slow")
        self.env["LD_PRELOAD"] = FAULT_LIB
        self.env["NAOS_IT_FAULT_FILE"] = self.fault
        self.env["NAOS_IT_SLOW_FILE"] = self.slow_file
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

    def slow(self, on, ms=1000):
        """Every spawn takes ms longer (the child runs meanwhile)."""
        if on:
            with open(self.slow_file, "w") as f:
                f.write("%d\n" % ms)
        else:
            os.unlink(self.slow_file)


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

            # Shown in the node's health and in /metrics. The count is of
            # agents waiting out the trouble right now: one whose retry's
            # spawn is under way is not waiting (under load, for a while),
            # and the health is refreshed at most once a second, so each
            # view is polled until it shows both.
            def health_counts_both():
                nodes = n.ok("nodes", json=True).data["nodes"]
                return nodes[0]["health"]["agents_node_trouble"] == 2
            wait_until(health_counts_both, timeout=10,
                       msg="health counting 2 agents held by node trouble")
            wait_until(lambda: "2 held by node trouble" in n.ok("nodes").out,
                       timeout=10, msg="`naos nodes` saying so")
            self.assertGreaterEqual(
                metric(n, "naos_node_trouble_total", reason="EMFILE"), 4)
            wait_until(lambda: metric(n, "naos_agents_node_trouble") == 2,
                       timeout=10, msg="the gauge counting both")

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



def cpu_seconds(pid):
    """User + system CPU time of process pid (all its threads), s."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@unittest.skipUnless(FAULT_LIB, "NAOS_IT_FAULT_LIB (it_fault_spawn) not set")
class SlowSpawn(NodeTest):
    """A spawn runs off the node's loop (issue 9, "A large deploy freezes
    the reactor"): on a machine too busy to run a new child soon, each
    spawn took the loop's whole wait for the child's exec (5.8 ms median,
    31 ms p99 at a 10,000-worker start). Here every spawn takes a second
    longer, with the child already running: the loop must serve meanwhile,
    and the child must be its worker from its first request."""

    def test_loop_serves_while_a_spawn_is_slow(self):
        with TroubleNode(self) as n:
            n.slow(True)
            # Its exits ask for orphan sweeps while the slow child exists
            # and the loop does not know it yet.
            n.deploy("flappy", ["sh", "-c", "exit 3"], "--max-restarts",
                     "100000", "--window", "1s")
            n.deploy("slow", ["sleep", "1000"])
            worst, seen_starting = 0.0, False
            cpu0, t0 = cpu_seconds(n.proc.pid), time.monotonic()
            t_end = t0 + 1.5
            while time.monotonic() < t_end:
                t = time.monotonic()
                n.ok("ping")
                worst = max(worst, time.monotonic() - t)
                w = n.node_at("slow/slow")
                if w is not None and w["state"] == "starting":
                    self.assertFalse(w["pid"], w)
                    seen_starting = True
            # The loop waits for the spawn, not in a spin: the orphan sweep
            # that flappy's exits ask for waits for the child being made
            # (it spun: 67% of a core over this window, 9% without; found by
            # review).
            busy = (cpu_seconds(n.proc.pid) - cpu0) / (time.monotonic() - t0)
            self.assertLess(busy, 0.4, "the node used %.0f%% of a CPU while "
                            "spawns were slow" % (busy * 100))
            self.assertTrue(seen_starting, "slow/slow never seen starting")
            # Before: the first ping waited out the whole spawn (1 s).
            self.assertLess(worst, within(0.5))
            n.slow(False)
            pid = n.wait_running_pid("slow/slow", timeout=within(10))
            n.barrier()
            self.assertTrue(pid_alive(pid))
            self.assertEqual(n.wait_running_pid("slow/slow"), pid)
            self.assertEqual(n.events("start-failed"), [])

    def test_agent_served_before_the_loop_took_its_spawn(self):
        with TroubleNode(self) as n:
            out = n.path("ping.txt")
            # 60 ms: longer than the agent takes to ask, shorter than the
            # node waits for a spawn under way (100 ms)
            n.slow(True, ms=60)
            # Its request comes while its spawn is still under way (its
            # pidfd_open sleeps): without the wait for that spawn, the
            # agent endpoint took it for a process a worker left behind.
            n.deploy("quick", ["sh", "-c",
                               '"$0" ping > "$1.tmp" 2>&1; '
                               'echo "rc=$?" >> "$1.tmp"; mv "$1.tmp" "$1"; '
                               'exec sleep 1000', NAOS_BIN, out])
            wait_until(lambda: os.path.exists(out), timeout=within(15),
                       msg="the agent's ping answered")
            n.slow(False)
            with open(out) as f:
                text = f.read()
            self.assertIn("rc=0", text)
            self.assertIn("agent endpoint of quick/quick", text)
            n.wait_running_pid("quick/quick", timeout=within(10))


    def test_ready_before_the_loop_took_its_spawn(self):
        with TroubleNode(self) as n:
            agent = n.write("ready.py", NOTIFY_PY + r"""
import sys, time
notify("READY=1")
open(sys.argv[1], "w").close()
while True:
    time.sleep(1000)
""")
            said = n.path("said")
            n.slow(True, ms=60)
            # READY=1 comes while its spawn is still under way: without the
            # wait for that spawn it was dropped as no worker's, and the
            # worker stayed starting for good.
            n.apply("name: rdy\n"
                    "supervisor: {strategy: one_for_one}\n"
                    "children:\n"
                    "  - id: w\n"
                    "    command: [\"python3\", \"%s\", \"%s\"]\n"
                    "    ready: notify\n" % (agent, said))
            wait_until(lambda: os.path.exists(said), timeout=within(15),
                       msg="the agent said READY=1")
            n.slow(False)
            n.wait_state("rdy", "running", timeout=within(10))
            self.assertEqual(n.node_at("rdy/w")["state"], "running")


if __name__ == "__main__":
    unittest.main()
