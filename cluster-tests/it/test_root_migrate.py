# SPDX-License-Identifier: Apache-2.0
"""The root supervisor moves a deployment that gave up on its node
(issue 12, escalation), on real nodes (loopback). A node alone keeps a
failed deployment failed (no other node: OTP's semantics, unchanged);
once a second node has joined, the leader moves it there, its first run
is told NAOS_RESTART_REASON=migrated and loads the checkpoint its last
run saved on the node it left, a `migrated` event names the new node,
and the old node runs nothing of it. A deployment that fails everywhere
is moved at most --max-migrations times within its window (with a
backoff between moves), then stays failed; `naos start` gives it as many moves again. One whose
program is missing is moved without counting, never back to a node that
lacked it, and stays failed once every node has been tried.
Every node is reaped by PID and its temp dirs removed."""
import os
import time
import unittest

from harness import NAOS_BIN, GrownTest, wait_until, within


class RootMigrate(GrownTest):
    dir_prefix = "nroot"

    def status(self, via, name):
        for d in via.ok("status", json=True).data.get("deployments", []):
            if d.get("name") == name:
                return d
        return None

    def events(self, via, kind, name):
        return [e for e in via.events(kind=kind)
                if e.get("deployment") == name or e.get("path") == name]

    def test_gave_up_alone_then_moved_when_a_node_joins(self):
        a = self.node("ra")
        runs = os.path.join(self.dir, "runs")
        loaded = os.path.join(self.dir, "loaded")
        script = (
            'echo "$NAOS_NODE $NAOS_RESTART_REASON" >> %s; '
            'if [ "$NAOS_NODE" = ra ]; then '
            '  echo "state from ra" | %s checkpoint save; exit 3; fi; '
            '%s checkpoint load > %s; exec sleep 1000'
            % (runs, NAOS_BIN, NAOS_BIN, loaded))
        a.deploy("picky", ["sh", "-c", script], "--max-restarts", "1",
                 "--window", "60s")
        a.wait_state("picky", "failed", timeout=within(10))
        time.sleep(1.0)  # a lone node never moves it: still failed
        self.assertEqual(self.status(a, "picky")["state"], "failed")

        b = self.node("rb", join=a.addr)
        wait_until(lambda: (self.status(b, "picky") or {}).get("node") == "rb"
                   and self.status(b, "picky")["state"] == "running",
                   within(20), interval=0.1, msg="picky runs on rb")
        with open(runs) as f:
            lines = f.read().split("\n")
        self.assertIn("rb migrated", lines, lines)
        wait_until(lambda: os.path.exists(loaded) and
                   open(loaded).read() == "state from ra\n", within(10),
                   interval=0.1, msg="rb's run loaded ra's checkpoint")
        ev = self.events(a, "migrated", "picky")
        self.assertEqual(len(ev), 1, ev)
        # status says how often the root moved it, of how many
        self.assertEqual(self.status(a, "picky")["migrations"],
                         {"moves": 1, "max": 3, "window_ms": 3600000})
        self.assertIn("moved 1/3 in 1h", a.naos("status").out)
        self.assertIn("to rb", str(ev[0]))
        # ra runs nothing of it any more
        local = a.ok("status", "--local", json=True).data
        self.assertNotIn("picky", [d.get("name")
                                   for d in local.get("deployments", [])])

    def test_moves_bounded_then_failed_until_started(self):
        a = self.node("sa")
        self.node("sb", join=a.addr)
        self.node("sc", join=a.addr)
        wait_until(lambda: sum(1 for m in a.members().values()
                               if m.get("role") in ("voter", "leader"))
                   == 3, within(20), interval=0.1, msg="3 voters")
        a.deploy("doomed", ["sh", "-c", "exit 3"], "--max-restarts", "1",
                 "--window", "60s", "--max-migrations", "2",
                 "--migration-window", "10m")
        # moved twice (at once, then after 1 s), then failed
        wait_until(lambda: len(self.events(a, "migrated", "doomed")) == 2
                   and (self.status(a, "doomed") or {}).get("state") ==
                   "failed", within(40), interval=0.2,
                   msg="2 moves, then failed")
        time.sleep(3.0)  # the root looks every 2 s at the most: no
        #                  third move, however long it waits
        self.assertEqual(len(self.events(a, "migrated", "doomed")), 2)
        self.assertEqual(self.status(a, "doomed")["state"], "failed")
        # each give-up and move is a cluster event with its entry and term,
        # each move after the give-up that called for it
        gave = self.events(a, "gave-up", "doomed")
        moves = self.events(a, "migrated", "doomed")
        self.assertEqual(len(gave), 3, gave)
        for e in gave + moves:
            self.assertGreater(e.get("index", 0), 0, e)
            self.assertGreater(e.get("term", 0), 0, e)
        for g, m in zip(gave, moves):
            self.assertLess(g["index"], m["index"], (g, m))
        self.assertEqual(self.status(a, "doomed")["migrations"],
                         {"moves": 2, "max": 2, "window_ms": 600000})
        # naos start: a fresh window, so it is moved again once it fails
        r = a.naos("start", "doomed")
        self.assertEqual(r.code, 0, r)
        wait_until(lambda: len(self.events(a, "migrated", "doomed")) >= 3,
                   within(20), interval=0.2, msg="moved again after start")

    def test_missing_program_moves_uncounted_until_tried_everywhere(self):
        a = self.node("ma")
        b = self.node("mb", join=a.addr)
        wait_until(lambda: (b.members().get("mb") or {}).get("role") ==
                   "learner", within(20), interval=0.1, msg="mb a learner")
        # no node has it: moved once (not counted: --max-migrations 0
        # would allow none), then failed for good
        prog = os.path.join(self.dir, "no-such-program")
        a.deploy("ghost", [prog], "--max-restarts", "1", "--window", "60s",
                 "--max-migrations", "0")
        wait_until(lambda: len(self.events(a, "migrated", "ghost")) == 1
                   and (self.status(a, "ghost") or {}).get("state") ==
                   "failed", within(30), interval=0.2,
                   msg="one uncounted move, then failed")
        time.sleep(2.5)  # a look of the root later: no move back
        self.assertEqual(len(self.events(a, "migrated", "ghost")), 1)
        self.assertIn("spawn-failed:ENOENT",
                      self.status(a, "ghost").get("failure", ""))


if __name__ == "__main__":
    unittest.main()
