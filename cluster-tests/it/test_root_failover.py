# SPDX-License-Identifier: Apache-2.0
"""A lost node's work moves (issue 12, leases), on three real founders on
loopback. Each deployment's agent writes a heartbeat line every 20 ms
(node, pid, restart reason, CLOCK_MONOTONIC time: comparable, the nodes
share one kernel); from them the tests check that no two runs of one
deployment were ever alive at once.

- kill -9 of a follower, or of the leader: every deployment it ran runs
  on another node, told NAOS_RESTART_REASON=node-lost, with a node-lost
  event; the others keep their runs. Its guardian certifies that nothing
  of it runs, so its work moves at once, well within its lease: a
  follower's certificate to the leader; a dead leader's to the others,
  taken by the leader of the next term (as the old one's grants named
  its instance).
- SIGTERM of a follower: once its agents stopped it tells the leader,
  and they run elsewhere at once (no overlap: they stopped first); of
  the leader: it moves them itself before it goes.
- SIGSTOP of a follower past its lease: its guardian kills its agents
  (the node cannot), they run elsewhere; resumed, the node learns they
  moved and runs nothing of them.
- A deployment with --on-partition keep on a node stopped past its lease
  runs on (its guardian spares it), and keeps its run after.
- A leader stopped for less than a lease: a new leader, and nothing
  moves (a leader change alone re-places nothing).
Every node is reaped by PID and its temp dirs removed."""
import os
import signal
import sys
import time
import unittest

from harness import FoundersTest, gauge, pid_alive, wait_until, within

AGENT = r'''
import os, sys, time
print("run on %s pid %d" % (os.environ.get("NAOS_NODE", "?"), os.getpid()),
      flush=True)
f = open(sys.argv[1], "a", buffering=1)
while True:
    f.write("%s %d %s %.6f\n" % (os.environ.get("NAOS_NODE", "?"),
            os.getpid(), os.environ.get("NAOS_RESTART_REASON") or "-",
            time.monotonic()))
    time.sleep(0.02)
'''


def runs_of(path):
    """{pid: [node, reason, first, last]} from a heartbeat file."""
    runs = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue  # a line cut by a kill
            node, pid, reason, t = parts[0], int(parts[1]), parts[2], \
                float(parts[3])
            r = runs.setdefault(pid, [node, reason, t, t])
            r[3] = max(r[3], t)
    return runs


class Deployed(FoundersTest):
    """Three founders running NAMES, each agent writing heartbeats; the
    helpers that read where they run and check their records (no test of
    its own: test_drain.py uses it too)."""
    dir_prefix = "nfail"
    name_prefix = "v"
    NAMES = ("w0", "w1", "w2", "w3", "w4", "w5")

    def setUp(self):
        super().setUp()
        self.agent = os.path.join(self.dir, "agent.py")
        with open(self.agent, "w") as f:
            f.write(AGENT)
        self.lead = self.leader(self.nodes)
        for name in self.NAMES:
            r = self.naos_ready(self.lead, "deploy", name, "--", sys.executable,
                                self.agent, self.hb(name))
            self.assertEqual(r.code, 0, r)
        wait_until(lambda: all(self.where(n) for n in self.NAMES),
                   within(30), interval=0.1, msg="every deployment runs")

    def hb(self, name):
        return os.path.join(self.dir, "hb-" + name)

    def deployments(self, via):
        r = via.naos("status", json=True)
        if r.code != 0:
            return {}
        return {d["name"]: d for d in r.data.get("deployments", [])}

    def where(self, name, via=None):
        """The node name deployment runs on (state running), or None."""
        d = self.deployments(via or self.lead).get(name) or {}
        return d.get("node") if d.get("state") == "running" else None

    def placed(self, via=None):
        return {n: self.where(n, via) for n in self.NAMES}

    def check_no_overlap(self):
        for name in self.NAMES:
            runs = sorted(runs_of(self.hb(name)).items(),
                          key=lambda kv: kv[1][2])
            for (p0, a), (p1, b) in zip(runs, runs[1:]):
                self.assertLess(a[3], b[2], "%s: run %d on %s (to %.3f) and "
                                "run %d on %s (from %.3f) overlap" %
                                (name, p0, a[0], a[3], p1, b[0], b[2]))

    def last_run(self, name):
        runs = runs_of(self.hb(name))
        return max(runs.items(), key=lambda kv: kv[1][2])

    def kill_and_watch(self, victim):
        before = self.placed()
        lost = [n for n, on in before.items() if on == victim.name]
        self.assertTrue(lost, "no deployment on %s: %r" % (victim.name,
                                                          before))
        survivors = [n for n in self.nodes if n is not victim]
        t0 = time.monotonic()
        victim.kill9()

        def moved():
            via = self.leader(survivors)
            now = self.placed(via)
            return all(now[n] not in (None, victim.name) for n in lost)
        wait_until(moved, within(30), interval=0.05,
                   msg="%s's deployments run elsewhere" % victim.name)
        took = time.monotonic() - t0
        sys.stderr.write("\n%s: kill -9 of %s -> %d deployments running "
                         "elsewhere in %.2f s\n" % (self.id(), victim.name,
                                                    len(lost), took))
        via = self.leader(survivors)
        for name in lost:  # its agent's first heartbeat there
            wait_until(lambda: self.last_run(name)[1][0] != victim.name,
                       within(10), interval=0.05, msg="%s beats" % name)
            pid, (node, reason, _, _) = self.last_run(name)
            self.assertEqual(reason, "node-lost", (name, node))
            self.assertNotEqual(node, victim.name)
        evs = [e for e in via.events(kind="node-lost")]
        self.assertEqual(sorted(e.get("deployment") or e.get("path")
                                for e in evs), sorted(lost), evs)
        for e in evs:  # where in the cluster's history: entry and term
            self.assertGreater(e.get("index", 0), 0, e)
            self.assertGreater(e.get("term", 0), 0, e)
        deps = self.deployments(via)
        for name in lost:  # status: moved from, why, the epoch it made
            last = deps[name]["history"][-1]
            self.assertEqual((last["from"], last["to"], last["reason"],
                              last["epoch"]),
                             (victim.name, deps[name]["node"], "node-lost",
                              deps[name]["epoch"]), deps[name])
        self.assertIn("moved from %s to " % victim.name,
                      via.naos("status").out)
        # the others kept their runs
        for name, on in before.items():
            if name not in lost:
                self.assertEqual(self.where(name, via), on)
        self.check_no_overlap()


class Failover(Deployed):

    def test_kill9_of_a_follower_moves_its_work(self):
        victim = next(n for n in self.nodes if n is not self.lead
                      and victim_has_work(self, n))
        self.kill_and_watch(victim)
        # on proof: its guardian certified that nothing of it runs (the
        # lease had seconds to go)
        certified = [e for e in self.lead.events(kind="fenced")
                     if victim.name + " died" in e.get("detail", "")]
        self.assertEqual(len(certified), 1, self.lead.events(kind="fenced"))

    def test_kill9_of_the_leader_moves_its_work(self):
        victim = self.lead
        self.kill_and_watch(victim)
        # on proof: the new leader took the dead one's certificate
        survivors = [n for n in self.nodes if n is not victim]
        lead = self.leader(survivors)
        certified = [e for e in lead.events(kind="fenced")
                     if victim.name + " died" in e.get("detail", "")]
        self.assertEqual(len(certified), 1, lead.events(kind="fenced"))

    def test_restart_at_once_before_its_certificate(self):
        """A node restarted before its dead run's guardian certified (its
        guardian held with SIGSTOP meanwhile): the certificate's envelope
        counter is the dead run's, so the new run's messages are still
        taken, and it follows the cluster's log. (When the certificate
        was sealed at the certify's own clock, its peers refused every
        later message of the new run as a replay.)"""
        victim = next(n for n in self.nodes if n is not self.lead)
        old_guardian = victim.guardian()
        self.assertIsNotNone(old_guardian)
        os.kill(old_guardian, signal.SIGSTOP)
        try:
            victim.kill9()
            victim.start_node()
        finally:
            os.kill(old_guardian, signal.SIGCONT)
        # the old guardian certifies now, after the new run began
        wait_until(lambda: not pid_alive(old_guardian), within(10),
                   interval=0.05, msg="the old guardian certified and went")
        r = self.naos_ready(self.lead, "deploy", "later", "--", "sleep",
                            "1000")
        self.assertEqual(r.code, 0, r)

        def caught_up():
            return (gauge(victim, "naos_raft_applied_index") ==
                    gauge(self.lead, "naos_raft_applied_index"))
        wait_until(caught_up, within(15), interval=0.1,
                   msg="the restarted node applies what follows")
        m = [x for x in self.lead.naos("nodes", json=True).data["nodes"]
             if x["name"] == victim.name][0]
        self.assertEqual(m["state"], "alive", m)

    def sigterm_and_watch(self, victim, said):
        before = self.placed()
        lost = [n for n, on in before.items() if on == victim.name]
        self.assertTrue(lost, before)
        survivors = [n for n in self.nodes if n is not victim]
        t0 = time.monotonic()
        self.assertEqual(victim.stop_node(), 0)  # SIGTERM, reaped
        wait_until(lambda: all(self.where(n, self.leader(survivors))
                               not in (None, victim.name) for n in lost),
                   within(20), interval=0.05,
                   msg="moved off the stopped node")
        sys.stderr.write("\n%s: SIGTERM of %s -> %d deployments running "
                         "elsewhere in %.2f s\n" % (self.id(), victim.name,
                                                    len(lost),
                                                    time.monotonic() - t0))
        self.assertIn(said, victim.read_node_log())
        return lost

    def test_sigterm_of_the_leader_moves_its_work_before_it_goes(self):
        self.sigterm_and_watch(self.lead, "moving its deployments before it "
                               "stops leading")
        self.check_no_overlap()

    def test_sigterm_of_a_follower_moves_its_work_once_stopped(self):
        victim = next(n for n in self.nodes if n is not self.lead
                      and victim_has_work(self, n))
        lost = self.sigterm_and_watch(victim, "told the leader")
        for name in lost:
            wait_until(lambda: self.last_run(name)[1][0] != victim.name,
                       within(10), interval=0.05, msg="%s beats" % name)
            self.assertEqual(self.last_run(name)[1][1], "node-lost", name)
        self.check_no_overlap()

    def test_stopped_past_its_lease_its_guardian_kills(self):
        before = self.placed()
        victim = next(n for n in self.nodes if n is not self.lead
                      and victim_has_work(self, n))
        lost = [n for n, on in before.items() if on == victim.name]
        old = {n: self.last_run(n)[0] for n in lost}
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            # its agents die while it is stopped (the guardian; zombies
            # until the node reaps them), then run elsewhere
            wait_until(lambda: not any(pid_alive(p) for p in old.values()),
                       within(15), interval=0.05,
                       msg="the stopped node's agents killed")
            wait_until(lambda: all(self.where(n) not in (None, victim.name)
                                   for n in lost), within(30), interval=0.05,
                       msg="moved off the stopped node")
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        # resumed: it learns they moved and starts none of them again
        wait_until(lambda: gauge(victim, "naos_raft_leader") == 0 and
                   victim.events(kind="lease-held"), within(20),
                   interval=0.1, msg="the resumed node holds a lease again")
        time.sleep(1.0)  # a run it wrongly started would beat by now
        for name in lost:
            runs = runs_of(self.hb(name))
            on_victim = [p for p, r in runs.items() if r[0] == victim.name]
            self.assertEqual(on_victim, [old[name]], name)
            self.assertNotEqual(self.where(name), victim.name)
        self.assertTrue(victim.events(kind="fenced"))
        self.check_no_overlap()

    def test_on_partition_keep_runs_on_without_a_lease(self):
        victim = next(n for n in self.nodes if n is not self.lead)
        r = self.naos_ready(self.lead, "deploy", "kp", "--on", victim.name,
                            "--on-partition", "keep", "--", sys.executable,
                            self.agent, self.hb("kp"))
        self.assertEqual(r.code, 0, r)
        wait_until(lambda: self.where("kp") == victim.name, within(20),
                   interval=0.1, msg="kp runs on %s" % victim.name)
        d = self.deployments(self.lead)["kp"]
        self.assertEqual(d["on_partition"], "keep", d)
        self.assertIn("on partition: keep", self.lead.naos("status").out)
        wait_until(lambda: os.path.exists(self.hb("kp")), within(10),
                   msg="kp beats")
        kp = self.last_run("kp")[0]
        stops = {n: self.last_run(n)[0] for n, on in self.placed().items()
                 if on == victim.name}
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            # the others' agents die at the lease; kp's runs on
            wait_until(lambda: not any(pid_alive(p) for p in stops.values()),
                       within(15), interval=0.05,
                       msg="the stopped node's other agents killed")
            time.sleep(1.0)
            self.assertTrue(pid_alive(kp))
            # pinned there, it waits for its node, not moved
            self.assertEqual(self.deployments(self.lead)["kp"]["node"],
                             victim.name)
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        wait_until(lambda: victim.events(kind="lease-held"), within(20),
                   interval=0.1, msg="the resumed node holds a lease again")
        self.assertTrue(pid_alive(kp))
        self.assertEqual(self.last_run("kp")[0], kp)

    def test_leader_change_alone_moves_nothing(self):
        before = self.placed()
        pids = {n: self.last_run(n)[0] for n in self.NAMES}
        old = self.lead
        os.kill(old.proc.pid, signal.SIGSTOP)
        try:
            others = [n for n in self.nodes if n is not old]
            self.leader(others)  # a new leader on the other side
        finally:
            os.kill(old.proc.pid, signal.SIGCONT)
        via = self.leader(self.nodes)
        time.sleep(4.0)  # past any lease the change could have ended
        self.assertEqual(via.events(kind="node-lost"), [])
        self.assertEqual(self.placed(via), before)
        for n in self.NAMES:
            self.assertEqual(self.last_run(n)[0], pids[n], n)
        self.check_no_overlap()


def victim_has_work(test, node):
    return any(on == node.name for on in test.placed().values())


if __name__ == "__main__":
    unittest.main()
