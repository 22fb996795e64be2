# SPDX-License-Identifier: Apache-2.0
"""Shutdown: timeouts, immediate kill, reverse stop order, node SIGTERM."""
import os
import signal
import time
import unittest

from harness import NodeTest, parse_iso_ms, pid_gone, wait_until, within

# argv: LOGFILE ID MODE; MODE = ignore (trap SIGTERM and go on) or
# exit (log, linger 0.2 s, log again, exit 0).
AGENT = r'''
import os, signal, sys, time
log, ident, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def put(what):
    with open(log, "a") as f:
        f.write("%s %s %d %.6f\n" % (what, ident, os.getpid(), time.time()))
def on_term(signo, frame):
    put("stopping")
    if mode == "exit":
        time.sleep(0.2)
        put("stopped")
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
put("up")
while True:
    time.sleep(1000)
'''


def parse(lines):
    """[(what, id, pid, t)] from the shared log."""
    out = []
    for l in lines:
        what, ident, pid, t = l.split()
        out.append((what, ident, int(pid), float(t)))
    return out


class Shutdown(NodeTest):

    def up(self, n, ident, log="events.txt"):
        def seen():
            for what, i, pid, _ in parse(n.lines(log)):
                if what == "up" and i == ident:
                    return pid
            return None
        seen.__name__ = "%s to be up" % ident
        return wait_until(seen, 15)

    def test_ignored_sigterm_is_killed_after_timeout(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            log = n.path("events.txt")
            n.deploy("stubborn", ["python3", agent, log, "stubborn", "ignore"],
                     "--shutdown", "500ms")
            pid = self.up(n, "stubborn")
            self.assertEqual(n.node_at("stubborn/stubborn")["pid"], pid)
            t0 = time.monotonic()
            n.ok("stop", "stubborn")
            wait_until(lambda: pid_gone(pid), within(10), 0.01,
                       "pid %d gone" % pid)
            # not before the shutdown timeout (SIGTERM went after t0); its
            # upper bound is taken below by the node's clock, without the
            # CLI's start
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.4,
                                    "killed %.3fs after stop" % elapsed)
            # it did get SIGTERM first, and ignored it
            terms = [e for e in parse(n.lines("events.txt"))
                     if e[0] == "stopping"]
            self.assertEqual(len(terms), 1)
            d = n.wait_state("stubborn", "stopped")
            w = d["tree"]["children"][0]
            self.assertIsNone(w["pid"])
            kills = n.events("kill", "stubborn/stubborn")
            self.assertEqual(len(kills), 1, n.events())
            # SIGKILL came ~0.5 s after the child saw SIGTERM, not after
            # the default 5 s (the child's timestamp lags the signal by its
            # handler's latency: a loaded machine shortens the gap, so
            # the lower bound is the one above)
            gap = parse_iso_ms(kills[0]["at"]) - terms[0][3]
            self.assertLess(gap, 0.5 + within(1.0), gap)
            # the deployment's stop event comes once it is all down
            stops = [e for e in n.events("stop")
                     if e["deployment"] == "stubborn"]
            self.assertEqual(len(stops), 1, n.events())
            # an operator stop does not count as a restart
            self.assertEqual(d["tree"]["restarts_in_window"], 0)
            self.assertEqual(w["restarts"], 0)

    def test_shutdown_kill_is_immediate(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            log = n.path("events.txt")
            n.deploy("brutal", ["python3", agent, log, "brutal", "ignore"],
                     "--shutdown", "kill")
            pid = self.up(n, "brutal")
            t0 = time.monotonic()
            n.ok("stop", "brutal")
            wait_until(lambda: pid_gone(pid), within(10), 0.01,
                       "pid %d gone" % pid)
            elapsed = time.monotonic() - t0
            # well before the default 5 s shutdown would have run out
            self.assertLess(elapsed, within(2.5),
                            "died %.3fs after stop" % elapsed)
            # Once stopped, its exit has been handled: a shutdown timer
            # (SIGTERM first, SIGKILL on expiry: a "kill" event) would
            # have fired before. None did: SIGKILL was the first signal.
            n.wait_state("brutal", "stopped", timeout=within(5))
            self.assertEqual(n.events("kill", "brutal/brutal"), [])
            # and the agent never saw a SIGTERM
            self.assertEqual([e for e in parse(n.lines("events.txt"))
                              if e[0] == "stopping"], [])

    def test_rest_for_one_stops_in_reverse_order(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            log = n.path("events.txt")
            kids = "".join(
                '  - {id: %s, command: ["python3", "%s", "%s", "%s", "exit"], '
                'shutdown: 3s, env: {NAOS_TEST_MARKER: "%s"}}\n'
                % (k, agent, log, k, n.marker) for k in ("a", "b", "c"))
            n.apply("name: chain\n"
                    "supervisor: {strategy: rest-for-one, max_restarts: 3, "
                    "window: 60s}\n"
                    "children:\n" + kids)
            for k in ("a", "b", "c"):
                self.up(n, k)
            d = n.wait_state("chain", "running")
            self.assertEqual([c["id"] for c in d["tree"]["children"]],
                             ["a", "b", "c"])
            self.assertEqual(d["tree"]["strategy"], "rest-for-one")
            # spawned in order (their "up" lines may race: ready is exec)
            self.assertEqual([e["path"] for e in n.events("start")],
                             ["chain/a", "chain/b", "chain/c"])
            n.ok("stop", "chain")
            n.wait_state("chain", "stopped", timeout=10)
            evs = [e for e in parse(n.lines("events.txt")) if e[0] != "up"]
            self.assertEqual([(e[0], e[1]) for e in evs],
                             [("stopping", "c"), ("stopped", "c"),
                              ("stopping", "b"), ("stopped", "b"),
                              ("stopping", "a"), ("stopped", "a")],
                             "children must stop one at a time, last first")
            times = [e[3] for e in evs]
            self.assertEqual(times, sorted(times))
            for w in n.workers("chain"):
                self.assertIsNone(w["pid"])
                self.assertEqual(w["state"], "stopped")

    def test_node_sigterm_stops_everything_and_exits_0(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            log = n.path("events.txt")
            n.deploy("one", ["python3", agent, log, "one", "exit"])
            n.deploy("two", ["python3", agent, log, "two", "exit"])
            n.deploy("stubborn", ["python3", agent, log, "stubborn",
                                  "ignore"], "--shutdown", "500ms")
            pids = {k: self.up(n, k) for k in ("one", "two", "stubborn")}
            t0 = time.monotonic()
            code = n.stop_node(signal.SIGTERM, timeout=within(10))
            elapsed = time.monotonic() - t0
            self.assertEqual(code, 0, n.read_node_log())
            self.assertGreaterEqual(elapsed, 0.4,
                                    "node exited %.3fs after SIGTERM, before "
                                    "the stubborn child's 500ms" % elapsed)
            stopping = {e[1] for e in parse(n.lines("events.txt"))
                        if e[0] == "stopping"}
            stopped = {e[1] for e in parse(n.lines("events.txt"))
                       if e[0] == "stopped"}
            self.assertEqual(stopping, {"one", "two", "stubborn"})
            self.assertEqual(stopped, {"one", "two"})
            for k, pid in pids.items():
                self.assertTrue(pid_gone(pid), "%s (pid %d) survived" %
                                (k, pid))
            self.assertEqual(n.survivors(), [])

    def test_second_node_signal_kills_at_once(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            log = n.path("events.txt")
            n.deploy("slow", ["python3", agent, log, "slow", "ignore"],
                     "--shutdown", "30s")
            pid = self.up(n, "slow")
            os.kill(n.proc.pid, signal.SIGTERM)
            wait_until(lambda: [e for e in parse(n.lines("events.txt"))
                                if e[0] == "stopping"], 15,
                       msg="child got SIGTERM")
            t0 = time.monotonic()
            code = n.stop_node(signal.SIGINT, timeout=within(10))
            # at once, not after the child's 30 s shutdown
            self.assertLess(time.monotonic() - t0, within(5.0))
            self.assertEqual(code, 0, n.read_node_log())
            self.assertTrue(pid_gone(pid))


if __name__ == "__main__":
    unittest.main()
