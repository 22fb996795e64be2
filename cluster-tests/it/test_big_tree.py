# SPDX-License-Identifier: Apache-2.0
"""A big pool starts and stops in slices (issue 9, "A large deploy freezes
the reactor"): while thousands of workers are started, and while they are
removed, the node keeps answering control pings; its deploy and rm
replies come back while the tree is still starting or stopping; every
worker starts and stops.

it_ctl_pinger pings the node over one kept-open NNG connection and, after
each answer, counts the node's children. A node that started (or reaped)
the whole pool in one reactor callback, as before, answers no ping while
the pool is part way started or stopped: the pings it owes wait for all of
it, seconds for thousands of spawns, and the count jumps from 0 to N (or N
to 0) between two answers. One that works in slices answers between two
slices. So the test asserts that pings were answered while the count was
between 10% and 90% of the pool, and that none of those waited longer than
a bound an order of magnitude above the slowest slice seen on a machine
loaded 30-fold. The strict figure (p99 <= 10 ms while 10,000 workers start
and stop) is bench/bigtree's, measured on a quiet machine.

Size: NAOS_BIGTREE_N workers (default 3000; output discarded, so one node
fd each)."""
import os
import subprocess
import time
import unittest

import harness
from harness import NodeTest, is_guardian, pid_alive, wait_until

PINGER = os.environ.get("NAOS_PINGER", "it_ctl_pinger")
N = int(os.environ.get("NAOS_BIGTREE_N", "3000"))
# The worst wait allowed for a ping answered while the pool is part way
# started or stopped: a slice is milliseconds (80 ms seen with one spawn
# per slice at load average 68); before the fix no such ping existed.
BOUND_S = float(os.environ.get("NAOS_BIGTREE_BOUND_S", "2.0"))
# Pings that must be answered in the middle of each phase.
MIN_MID_PINGS = 3


class Pinger:
    """it_ctl_pinger against node n, from start() to stop()."""

    def __init__(self, node):
        self.argv = [PINGER, "ipc://%s/ctl.sock" % node.run,
                     str(node.proc.pid)]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        return self

    def stop(self):
        """[(latency seconds, children after the answer)], failures."""
        out, _ = self.proc.communicate(input="stop\n", timeout=180)
        self.proc = None
        pings, failed = [], 0
        for line in out.splitlines():
            if line == "FAILED":
                failed += 1
            else:
                lat, kids = line.split()
                pings.append((int(lat) / 1e6, int(kids)))
        return pings, failed

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def children(pid):
    """The direct children of pid (every thread's), zombies included, but
    its lease guardian (a child of every node, not a worker)."""
    return [p for p in harness.children(pid) if not is_guardian(p)]


def summary(name, pings, failed):
    lats = sorted(p[0] for p in pings)
    if not lats:
        return "%s: no pings" % name
    p99 = lats[int(0.99 * (len(lats) - 1) + 0.5)]
    return ("%s: %d pings (%d failed), max %.1f ms, p99 %.1f ms" %
            (name, len(lats), failed, lats[-1] * 1e3, p99 * 1e3))


class BigTree(NodeTest):

    def check_mid(self, what, pings, report):
        lo, hi = N * 0.1, N * 0.9
        mid = [lat for lat, kids in pings if lo < kids < hi]
        self.assertGreaterEqual(
            len(mid), MIN_MID_PINGS,
            "%s: %d pings answered while the pool was part way (%d..%d "
            "children): the reactor did the whole pool in one go; %s" %
            (what, len(mid), lo, hi, report))
        self.assertLess(max(mid), BOUND_S,
                        "%s: a ping waited %.0f ms; %s" %
                        (what, max(mid) * 1e3, report))

    def test_big_pool_starts_and_stops_in_slices(self):
        with self.node() as n:
            pinger = Pinger(n)
            try:
                pinger.start()
                time.sleep(0.3)  # a few hundred pings for the anchor
                idle = pinger.stop()

                pinger.start()
                t0 = time.monotonic()
                # --timeout: the CLI's 10 s would fail the old node before
                # the pings say what happened
                r = n.naos("--timeout", "120s", "deploy", "pool",
                           "--no-wait",
                           "--replicas", N, "--output", "discard", "--env",
                           "NAOS_TEST_MARKER=" + n.marker, "--", "sleep",
                           "1000", timeout=180)
                deploy_s = time.monotonic() - t0
                at_reply = len(children(n.proc.pid))
                self.assertEqual(r.code, 0, r)
                # The reply did not wait for the pool to start.
                self.assertLess(at_reply, N, "deploy replied with %d of %d "
                                "workers started" % (at_reply, N))
                # Polled through /proc: a status document of N workers
                # would load the reactor that is being measured.
                wait_until(lambda: len(children(n.proc.pid)) >= N,
                           timeout=240, interval=0.1,
                           msg="%d workers spawned" % N)
                start = pinger.stop()

                # The node's health counts them all (`naos nodes`).
                health = n.ok("nodes", json=True).data["nodes"][0]["health"]
                self.assertEqual(health["agents_running"], N, health)
                ws = n.workers("pool")
                self.assertEqual(len(ws), N)
                self.assertEqual(
                    sum(1 for w in ws if w["state"] == "running"), N)
                pids = [w["pid"] for w in ws]
                self.assertEqual(len(set(pids)), N)
                self.assertTrue(all(pid_alive(p) for p in pids))

                pinger.start()
                t0 = time.monotonic()
                r = n.naos("--timeout", "120s", "rm", "pool", timeout=180)
                rm_s = time.monotonic() - t0
                self.assertEqual(r.code, 0, r)
                wait_until(lambda: not children(n.proc.pid), timeout=240,
                           interval=0.1, msg="every worker reaped")
                stop = pinger.stop()
                wait_until(lambda: n.dep("pool") is None, timeout=60,
                           msg="pool removed")
                self.assertFalse(any(pid_alive(p) for p in pids))
            finally:
                pinger.kill()
            report = "; ".join([
                "%d workers" % N, summary("idle", *idle),
                "deploy reply %.2f s (%d workers then)" % (deploy_s, at_reply),
                summary("start", *start),
                "rm reply %.2f s" % rm_s, summary("rm", *stop)])
            print(report)
            for phase in (start, stop):
                self.assertEqual(phase[1], 0, report)
            self.check_mid("start", start[0], report)
            self.check_mid("rm", stop[0], report)
            # Every start and every stop was reported.
            evs = n.events()
            self.assertEqual(sum(1 for e in evs if e["kind"] == "start" and
                                 e["path"].startswith("pool/")), N)
            self.assertEqual(sum(1 for e in evs if e["kind"] == "remove"), 1)


# Each worker writes when its SIGTERM handler runs, then takes 0.3 s to
# stop: longer than the node counts a stopping worker as dying (50 ms).
SLOW_STOP = ('trap \'date +%%s%%N >> %s; sleep 0.3; exit 0\' TERM; '
             'while :; do sleep 0.05; done')


class StopPacing(NodeTest):
    """A stop asks at most a few workers at a time to end (the node's
    dying cap, node.c): the exits a thousand signals set off at once kept
    the reactor from a CPU for hundreds of milliseconds. With the cap at
    one (NAOS_TESTING_DYING_MAX) and workers slow to stop, the node sends
    the next SIGTERM when the last one stops counting (50 ms), so 12
    workers get theirs over at least 11 x 50 ms; before the cap all 12
    went out in one slice, within a few milliseconds of each other."""

    def test_stop_signals_a_few_workers_at_a_time(self):
        with self.node(env={"NAOS_TESTING_DYING_MAX": "1"}) as n:
            log = os.path.join(n.dir, "terms")
            n.deploy("slow", ["sh", "-c", SLOW_STOP % log], "--replicas",
                     "12")
            wait_until(lambda: sum(1 for w in n.workers("slow")
                                   if w["state"] == "running") == 12,
                       timeout=30, msg="12 workers running")
            n.ok("rm", "slow")
            wait_until(lambda: n.dep("slow") is None, timeout=60,
                       msg="slow removed")
            with open(log) as f:
                terms = sorted(int(line) / 1e9 for line in f.read().split())
            self.assertEqual(len(terms), 12, terms)
            spread = terms[-1] - terms[0]
            # 0.55 s at the earliest; the handlers run up to 50 ms late.
            self.assertGreater(spread, 0.4, "12 SIGTERMs within %.0f ms: "
                               "the stop did not wait for dying workers" %
                               (spread * 1e3))


if __name__ == "__main__":
    unittest.main()
