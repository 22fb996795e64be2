# SPDX-License-Identifier: Apache-2.0
"""A frozen node (SIGSTOP: the process exists, its connections stay open,
it answers nothing) on 5 real nodes, lan profile: every survivor suspects
it within the bound node/swim/swim.h documents for a silent node, and once
it is thawed (SIGCONT) it refutes and every node sees it alive again.

The bound is swim.h's worst case for lan at N=5: until some survivor's
probe comes round to it, at most (N - 1) probe intervals (8 s), then the
direct ping's timeout and the relays' nacks (0.5 s + 0.4 s) and a gossip
hop; times 1.5 for sanitizer builds and a busy machine. The typical figure
(~2.3 s) is measured by bench/gossip (--freeze), not asserted here.
Every node is reaped by PID; a frozen node is thawed before anything else
happens to it."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import NAOS_BIN, Node, wait_until

LISTEN = ["--listen", "tcp://127.0.0.1:0", "--profile", "lan"]
N = 5
PROBE_INTERVAL = 2.0  # lan
PUSH_PULL_INTERVAL = 30.0  # lan
BOUND = ((N - 1) * PROBE_INTERVAL + 0.5 + 0.4 + 0.2) * 1.5


class Frozen(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nfrz", dir="/tmp")
        self.key = os.path.join(self.dir, "cluster.key")
        p = subprocess.run([NAOS_BIN, "keygen", self.key],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p)
        self.nodes = []
        self.frozen = None
        self.addCleanup(self.cleanup)
        seed = self.enter(Node(name="f0",
                               extra_args=LISTEN + ["--key", self.key]))
        addr = seed.gossip_addr()
        for i in range(1, N):
            self.enter(Node(name="f%d" % i,
                            extra_args=LISTEN + ["--key", self.key,
                                                 "--seeds", addr]))

    def enter(self, node):
        node.__enter__()
        self.nodes.append(node)
        return node

    def cleanup(self):
        if self.frozen is not None and self.frozen.proc is not None:
            os.kill(self.frozen.proc.pid, signal.SIGCONT)
        problems = []
        for n in reversed(self.nodes):
            try:
                n.__exit__(None, None, None)
            except AssertionError as e:
                problems.append(str(e))
        shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))

    def states(self, observers, name):
        return {o.name: o.members().get(name, {}).get("state")
                for o in observers}

    def wait_all(self, observers, name, pred, timeout, what):
        seen = {}

        def ok():
            seen.update(self.states(observers, name))
            return all(pred(s) for s in seen.values())
        try:
            wait_until(ok, timeout, interval=0.02, msg=what)
        except AssertionError as e:
            raise AssertionError("%s; last states: %r" % (e, seen))

    def test_frozen_node_suspected_by_every_survivor(self):
        names = ["f%d" % i for i in range(N)]
        # A join reaches every node by gossip almost always within a
        # second, but gossip sends each update only retransmit_mult *
        # ceil(log10(N + 1)) = 4 times at N = 5, so now and then one node
        # misses it (seen once in CI: f1 had not heard of f4 after 20 s);
        # the push-pull every lan node runs every 30 s is what guarantees
        # it, so the wait is that and slack.
        for n in names:
            self.wait_all(self.nodes, n, lambda s: s == "alive",
                          PUSH_PULL_INTERVAL + 15,
                          "%s alive at every node" % n)
        # Two freezes, never the seed; the second after the first victim
        # is back, so the cluster has a history of probes and suspicions.
        for victim in (self.nodes[2], self.nodes[4]):
            survivors = [n for n in self.nodes if n is not victim]
            t0 = time.monotonic()
            os.kill(victim.proc.pid, signal.SIGSTOP)
            self.frozen = victim
            try:
                self.wait_all(survivors, victim.name,
                              lambda s: s in ("suspect", "dead"), BOUND,
                              "%s suspected by every survivor within "
                              "%.1f s" % (victim.name, BOUND))
                took = time.monotonic() - t0
            finally:
                os.kill(victim.proc.pid, signal.SIGCONT)
                self.frozen = None
            print("\nSIGSTOP %s -> suspected by all %d survivors: %.2f s "
                  "(bound %.1f s)" % (victim.name, len(survivors), took,
                                      BOUND))
            # Thawed, it refutes (or rejoins, had its suspicion run out)
            # and is alive everywhere again.
            self.wait_all(self.nodes, victim.name, lambda s: s == "alive",
                          30, "%s alive again everywhere" % victim.name)


if __name__ == "__main__":
    unittest.main()
