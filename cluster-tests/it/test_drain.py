# SPDX-License-Identifier: Apache-2.0
"""`naos drain NODE` / `naos undrain NODE` (issue 12), on three real
founders on loopback whose agents write heartbeat lines (see
test_root_failover.py):

- a drain asked on the drained node itself (a follower: relayed to the
  leader) waits until nothing is placed there; every deployment it ran
  runs on another node, told NAOS_RESTART_REASON=migrated, with a
  migrated event saying why, and its records show it stopped there
  before it started elsewhere (no overlap); the others keep their runs;
- the drained node lives on, runs nothing, takes no new deployment (not
  even one pinned to it: refused, saying why), `naos nodes` says so, and
  it stays drained across its restart;
- `naos undrain` makes it take deployments again;
- a drain of a name no member has changes nothing, exit 100.
Every node is reaped by PID and its temp dirs removed."""
import os
import sys
import time
import unittest

from harness import wait_until, within
from test_root_failover import Deployed, victim_has_work


class Drain(Deployed):

    def member(self, via, name):
        r = via.naos("nodes", json=True)
        self.assertEqual(r.code, 0, r)
        return next(m for m in r.data["nodes"] if m["name"] == name)

    def test_drain_moves_each_deployment_stopped_first_until_undrain(self):
        victim = next(n for n in self.nodes if n is not self.lead
                      and victim_has_work(self, n))
        before = self.placed()
        moved = sorted(n for n, on in before.items() if on == victim.name)
        t0 = time.monotonic()
        r = victim.naos("drain", victim.name, "--within", "60s")
        took = time.monotonic() - t0
        self.assertEqual(r.code, 0, r)
        self.assertIn("%s is drained" % victim.name, r.out)
        self.assertIn("still placed on %s" % victim.name, r.err)  # progress
        sys.stderr.write("\n%s: drain of %s -> %d deployments running "
                         "elsewhere in %.2f s\n" % (self.id(), victim.name,
                                                    len(moved), took))
        wait_until(lambda: all(self.where(n) not in (None, victim.name)
                               for n in moved), within(10), interval=0.05,
                   msg="the drained node's deployments run elsewhere")
        for name in moved:
            wait_until(lambda: self.last_run(name)[1][0] != victim.name,
                       within(10), interval=0.05, msg="%s beats" % name)
            _, (node, reason, _, _) = self.last_run(name)
            self.assertEqual(reason, "migrated", (name, node))
        evs = [e for e in self.lead.events(kind="migrated")
               if "drained" in e.get("detail", "")]
        self.assertEqual(sorted(e.get("deployment") or e.get("path")
                                for e in evs), moved, evs)
        deps = self.deployments(self.lead)
        for name in moved:  # status: moved from, why
            self.assertEqual(deps[name]["history"][-1]["reason"], "drained")
            self.assertEqual(deps[name]["history"][-1]["from"], victim.name)
        for name, on in before.items():  # the others kept their runs
            if name not in moved:
                self.assertEqual(self.where(name), on)
                self.assertEqual(deps[name]["history"], [])
        # the output of each one's run on the node it left, from any node
        for name in moved:
            r = self.lead.naos("logs", "--previous", name)
            self.assertEqual(r.code, 0, r)
            self.assertIn("run on %s pid " % victim.name, r.out)
            r = self.lead.naos("logs", name)  # this run's, where it runs
            self.assertNotIn("run on %s " % victim.name, r.out)
        stayed = next(n for n in self.NAMES if n not in moved)
        r = self.lead.naos("logs", "--previous", stayed)
        self.assertEqual(r.code, 100, r)
        self.assertIn("never moved", r.err)
        self.check_no_overlap()  # stopped there before it started elsewhere

        # drained: alive, runs nothing, takes nothing new, says so
        self.assertIsNone(victim.proc.poll())
        m = self.member(self.lead, victim.name)
        self.assertEqual((m["drained"], m["placed"]), (True, 0), m)
        self.assertIn("DRAINED", self.lead.naos("nodes").out)
        self.assertEqual(victim.status().get("deployments"), [])
        for i in range(3):
            r = self.naos_ready(self.lead, "deploy", "new%d" % i, "--",
                                "sleep", "600")
            self.assertEqual(r.code, 0, r)
            self.assertNotIn(" on %s " % victim.name, r.out)
        r = self.lead.naos("deploy", "pinned", "--on", victim.name, "--",
                           "sleep", "600")
        self.assertEqual(r.code, 100, r)
        self.assertIn("which is drained", r.err)
        self.assertIn("naos undrain %s" % victim.name, r.err)

        # restarted, it is still drained: it starts nothing
        self.assertEqual(victim.stop_node(), 0)
        victim.start_node()
        wait_until(lambda: self.member(victim, victim.name)["drained"],
                   within(20), interval=0.1, msg="still drained")
        time.sleep(1)  # a node that wrongly started something would by now
        self.assertEqual(victim.status().get("deployments"), [])

        # undrained: it takes deployments again
        r = self.lead.naos("undrain", victim.name)
        self.assertEqual(r.code, 0, r)
        self.assertIn("no longer drained", r.out)
        self.assertFalse(self.member(self.lead, victim.name)["drained"])
        r = self.naos_ready(self.lead, "deploy", "pinned", "--on",
                            victim.name, "--", "sleep", "600")
        self.assertEqual(r.code, 0, r)
        wait_until(lambda: self.where("pinned") == victim.name, within(10),
                   interval=0.1, msg="pinned runs on the undrained node")

    def test_drain_of_no_member_changes_nothing(self):
        before = self.placed()
        r = self.lead.naos("drain", "nosuch")
        self.assertEqual(r.code, 100, r)
        self.assertIn("no member named nosuch", r.err)
        r = self.lead.naos("undrain", "nosuch")
        self.assertEqual(r.code, 100, r)
        self.assertIn("no member named nosuch", r.err)
        r = self.lead.naos("undrain", self.lead.name, "--no-wait")
        self.assertEqual(r.code, 100, r)  # drain's option
        r = self.lead.naos("drain")
        self.assertEqual(r.code, 100, r)
        self.assertEqual(self.placed(), before)
        self.assertFalse(any(self.member(self.lead, n.name)["drained"]
                             for n in self.nodes))


if __name__ == "__main__":
    unittest.main()
