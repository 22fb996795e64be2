# SPDX-License-Identifier: Apache-2.0
"""The notify protocol: readiness gating, start timeout, STATUS=, watchdog."""
import time
import unittest

from harness import NOTIFY_PY, NodeTest, parse_iso_ms, pid_gone, wait_until

# argv: LOGFILE ID DELAY: logs "start", waits DELAY s, logs "ready" and says
# READY=1, then sleeps.
GATED = NOTIFY_PY + r'''
import sys, time
log, ident, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
def put(what):
    with open(log, "a") as f:
        f.write("%s %s %d %.6f\n" % (what, ident, os.getpid(), time.time()))
put("start")
time.sleep(delay)
put("ready")
notify("READY=1\nSTATUS=ready after %.1fs" % delay)
while True:
    time.sleep(1000)
'''

# Never says READY=1.
SILENT = r'''
import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write("start %d %.6f\n" % (os.getpid(), time.time()))
while True:
    time.sleep(1000)
'''

# argv: LOGFILE. First run: READY=1, then exit 1 after 0.2 s. Later runs
# never say READY=1.
FLAKY = NOTIFY_PY + r'''
import sys, time
count = os.environ.get("NAOS_RESTART_COUNT")
with open(sys.argv[1], "a") as f:
    f.write("run %s %d %.6f\n" % (count, os.getpid(), time.time()))
if count == "0":
    notify("READY=1")
    time.sleep(0.2)
    sys.exit(1)
while True:
    time.sleep(1000)
'''

STATUS = NOTIFY_PY + r'''
import time
notify("STATUS=crunching 42 items")
while True:
    time.sleep(1000)
'''

# argv: LOGFILE PINGS: on the first run, WATCHDOG=1 every 0.1 s for PINGS
# pings, then silence; later runs ping forever. Logs each run with its
# restart count, reason and WATCHDOG_USEC.
WATCHDOG = NOTIFY_PY + r'''
import sys, time
log, pings = sys.argv[1], int(sys.argv[2])
count = os.environ.get("NAOS_RESTART_COUNT")
with open(log, "a") as f:
    f.write("run %s %s %s %d %.6f\n" % (
        count, os.environ.get("NAOS_RESTART_REASON") or "-",
        os.environ.get("WATCHDOG_USEC"), os.getpid(), time.time()))
i = 0
while count != "0" or i < pings:
    notify("WATCHDOG=1")
    time.sleep(0.1)
    i += 1
with open(log, "a") as f:
    f.write("silent %d %.6f\n" % (os.getpid(), time.time()))
while True:
    time.sleep(1000)
'''


def rows(n, name):
    out = []
    for l in n.lines(name):
        p = l.split()
        out.append(p)
    return out


class Notify(NodeTest):

    def gated_tree(self, strategy):
        with self.node() as n:
            agent = n.write("gated.py", GATED)
            log = n.path("gate.txt")
            plain = n.write("plain.sh", '#!/bin/sh\necho "start second $$ '
                            '$(python3 -c "import time; print(time.time())")"'
                            ' >> %s\nexec sleep 1000\n' % log)
            n.apply(
                "name: gate\n"
                "supervisor: {strategy: %s, max_restarts: 3, window: 60s}\n"
                "children:\n"
                "  - id: first\n"
                "    command: [\"python3\", \"%s\", \"%s\", \"first\", \"1.0\"]\n"
                "    ready: notify\n"
                "    start_timeout: 10s\n"
                "  - id: second\n"
                "    command: [\"%s\"]\n" % (strategy, agent, log, plain))
            # while first has not said READY=1, it is starting and second
            # has not been spawned
            wait_until(lambda: any(r[0] == "start" and r[1] == "first"
                                   for r in rows(n, "gate.txt")), 5,
                       msg="first started")
            first = n.node_at("gate/first")
            second = n.node_at("gate/second")
            if not any(r[0] == "ready" for r in rows(n, "gate.txt")):
                self.assertEqual(first["state"], "starting", first)
                self.assertIsNone(second["pid"], second)
                self.assertNotEqual(second["state"], "running", second)
            wait_until(lambda: any(r[1] == "second"
                                   for r in rows(n, "gate.txt")), 5,
                       msg="second started")
            t = {(r[0], r[1]): float(r[3]) for r in rows(n, "gate.txt")}
            self.assertGreaterEqual(t[("start", "second")],
                                    t[("ready", "first")],
                                    "second spawned before first was ready")
            self.assertGreaterEqual(
                t[("start", "second")] - t[("start", "first")], 0.9)
            d = n.wait_state("gate", "running")
            self.assertEqual(n.node_at("gate/first")["state"], "running")
            self.assertEqual(n.node_at("gate/first")["status_text"],
                             "ready after 1.0s")
            self.assertTrue(n.events("ready", "gate/first"))
            self.assertEqual(d["tree"]["strategy"], strategy)

    def test_readiness_gates_next_child_rest_for_one(self):
        self.gated_tree("rest-for-one")

    def test_readiness_gates_next_child_one_for_all(self):
        self.gated_tree("one-for-all")

    def test_start_timeout_kills_silent_child(self):
        with self.node() as n:
            agent = n.write("silent.py", SILENT)
            n.deploy("mute", ["python3", agent, n.path("runs.txt")],
                     "--ready", "notify", "--start-timeout", "500ms",
                     "--max-restarts", "0", "--window", "60s")
            first = wait_until(lambda: rows(n, "runs.txt"), 5,
                               msg="first run")[0]
            pid = int(first[1])
            wait_until(lambda: pid_gone(pid), 5, 0.02, "silent child killed")
            ev = wait_until(lambda: [e for e in n.events()
                                     if e["path"] == "mute/mute" and
                                     e["reason"] == "start-timeout"], 5,
                            msg="an event with reason start-timeout")
            self.assertIn(ev[0]["kind"], ("exit", "start-failed"), ev)
            # by the node's clock: spawned, then given up ~0.5 s later
            start = n.events("start", "mute/mute")
            self.assertEqual(len(start), 1, start)
            lived = parse_iso_ms(ev[0]["at"]) - parse_iso_ms(start[0]["at"])
            self.assertGreaterEqual(lived, 0.45, "killed after %.3fs" % lived)
            self.assertLess(lived, 1.5, "killed after %.3fs" % lived)
            w = n.wait_worker("mute/mute", lambda w: w["last_exit"], 5,
                              "last_exit set")
            self.assertEqual(w["last_exit"]["reason"], "start-timeout", w)
            self.assertIsNone(w["pid"])
            n.wait_state("mute", "failed")

    def test_start_timeout_on_restart_counts_every_retry(self):
        # OTP B5: a failed *initial* start fails the supervisor at once (see
        # above). A failed start during a *restart* is retried, and every
        # retry counts toward intensity (B2): with max_restarts 3 the worker
        # runs 1 + 3 times, then the deployment fails.
        with self.node() as n:
            agent = n.write("flaky.py", FLAKY)
            n.deploy("flaky", ["python3", agent, n.path("runs.txt")],
                     "--ready", "notify", "--start-timeout", "300ms",
                     "--max-restarts", "3", "--window", "60s")
            d = n.wait_state("flaky", "failed", timeout=6)
            runs = rows(n, "runs.txt")
            self.assertEqual(len(runs), 4, runs)
            self.assertEqual(runs[0][1], "0")
            w = d["tree"]["children"][0]
            self.assertEqual(w["last_exit"]["reason"], "start-timeout", w)
            self.assertIsNone(w["pid"])
            for r in runs:
                self.assertTrue(pid_gone(int(r[2])), r)
            self.assertGreaterEqual(
                len([e for e in n.events(path="flaky/flaky")
                     if e["reason"] == "start-timeout"]), 3, n.events())
            self.assertEqual(len(n.events("escalate")), 1)

    def test_status_text(self):
        with self.node() as n:
            agent = n.write("status.py", STATUS)
            n.deploy("st", ["python3", agent])
            w = n.wait_worker("st/st", lambda w: w["status_text"], 5,
                              "status_text set")
            self.assertEqual(w["status_text"], "crunching 42 items")
            self.assertIn("crunching 42 items", n.ok("status").out)

    def test_watchdog_expiry_restarts_with_reason_watchdog(self):
        with self.node() as n:
            agent = n.write("wd.py", WATCHDOG)
            n.deploy("wd", ["python3", agent, n.path("wd.txt"), "12"],
                     "--watchdog", "500ms", "--max-restarts", "5",
                     "--window", "60s")
            w = n.wait_worker("wd/wd", lambda w: w["restarts"] >= 1, 6,
                              "restarted by the watchdog")
            wait_until(lambda: len([x for x in rows(n, "wd.txt")
                                    if x[0] == "run"]) >= 2, 5,
                       msg="second run logged")
            self.assertEqual(w["last_exit"]["reason"], "watchdog", w)
            r = rows(n, "wd.txt")
            runs = [x for x in r if x[0] == "run"]
            silent = [x for x in r if x[0] == "silent"]
            self.assertEqual(runs[0][3], "500000", "WATCHDOG_USEC")
            self.assertEqual(len(silent), 1)
            # alive while it pinged (~1.2 s), killed ~0.5 s after silence
            first_pid = int(runs[0][4])
            self.assertTrue(pid_gone(first_pid))
            self.assertEqual(runs[1][2], "watchdog", "NAOS_RESTART_REASON")
            gap = float(runs[1][5]) - float(silent[0][2])
            self.assertGreaterEqual(gap, 0.3, gap)
            self.assertLess(gap, 2.0, gap)
            self.assertGreaterEqual(float(silent[0][2]) - float(runs[0][5]),
                                    1.0)
            self.assertTrue([e for e in n.events(path="wd/wd")
                             if e["reason"] == "watchdog"])
            # the second run keeps pinging and is left alone
            pid2 = int(runs[1][4])
            time.sleep(1.0)
            w = n.node_at("wd/wd")
            self.assertEqual(w["pid"], pid2)
            self.assertEqual(w["restarts"], 1)


if __name__ == "__main__":
    unittest.main()
