# SPDX-License-Identifier: Apache-2.0
"""Growing a cluster with `naos-node join` on real nodes (loopback): a
node started alone is a cluster of one voter; a node that joins it with
an empty data directory is taken in as a learner, receives the log (the
deployments made before it came) and a deployment can be placed on it;
with a second learner caught up, the leader promotes both, back to back,
to 3 voters; the cluster then survives the founder's SIGKILL. A join
under a name another member has is refused (exit 100, the name and what
to do said) until that member is removed; a joiner paused before its
log is open is not promoted; --no-voter keeps a node a learner; `start
--voters 1` keeps every joiner a learner, and the target recorded at
founding cannot be changed by a later start; `join` on the data of a
node that ran alone is refused before it starts. Every node is reaped
by PID and its temp dirs removed."""
import os
import shutil
import signal
import time
import unittest

from harness import (GrownTest, cpu_seconds, free_tcp_ports, gauge,
                     wait_until, within)


class RaftJoin(GrownTest):
    dir_prefix = "nrjoin"

    def roles(self, via):
        return {name: m.get("role") or ""
                for name, m in via.members().items()
                if m.get("state") == "alive"}

    def wait_roles(self, via, want):
        wait_until(lambda: all(self.roles(via).get(k) == v
                               for k, v in want.items()),
                   within(20), interval=0.1,
                   msg="%s sees roles %r (last %r)" % (via.name, want,
                                                        self.roles(via)))

    def test_join_learner_then_three_voters(self):
        a = self.node("ja")
        r = a.naos("deploy", "early", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(gauge(a, "naos_raft_voters"), 1)

        b = self.node("jb", join=a.addr)
        # one learner: no promotion (2 voters would tolerate no failure)
        self.wait_roles(a, {"ja": "leader", "jb": "learner"})
        self.wait_roles(b, {"ja": "leader", "jb": "learner"})
        wait_until(lambda: "early" in b.naos("status").out, within(10),
                   interval=0.1, msg="jb's status shows early")
        # placed on the learner: it runs work
        r = self.naos_ready(b, "deploy", "onb", "--on", "jb", "--no-wait",
                            "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        b.wait_state("onb", "running")
        time.sleep(1.0)  # a promotion would have happened by now
        self.assertEqual(gauge(a, "naos_raft_voters"), 1)
        self.assertTrue(any("adding jb" in line
                            for line in a.read_node_log().splitlines()),
                        a.read_node_log()[-2000:])

        # a second learner: both promoted, back to back
        c = self.node("jc", join=a.addr)
        for n in (a, b, c):
            self.wait_roles(n, {"ja": "leader", "jb": "voter",
                                "jc": "voter"})
            wait_until(lambda n=n: gauge(n, "naos_raft_voters") == 3,
                       within(10), interval=0.1,
                       msg="%s counts 3 voters" % n.name)
        r = self.naos_ready(c, "deploy", "later", "--no-wait", "--", "sleep",
                            "1000")
        self.assertEqual(r.code, 0, r)
        for n in (a, b, c):
            wait_until(lambda n=n: all(x in n.naos("status").out
                                       for x in ("early", "onb", "later")),
                       within(10), interval=0.1,
                       msg="%s's status shows every deployment" % n.name)

        # the founder dies: the two others elect a leader and go on
        a.kill9()
        wait_until(lambda: gauge(b, "naos_raft_leader") == 1 or
                   gauge(c, "naos_raft_leader") == 1, within(20),
                   interval=0.1, msg="a new leader among jb and jc")
        r = self.naos_ready(b, "deploy", "after", "--on", "jc", "--no-wait",
                            "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        c.wait_state("after", "running")

    def test_learner_paused_before_opening_its_log(self):
        """A joiner told "under way" and paused before it heard it is in
        (its log not open) is not promoted when a second learner comes:
        promoted, it made the founder and itself two voters that elected
        nobody for good (it opens its log only when a leader says so).
        Resumed, it is taken in and both are promoted."""
        a = self.node("pa")
        b = self.node("pb", join=a.addr)
        # pause pb once the leader proposed its ADD_LEARNER (it asks again
        # 200 ms later to hear that it is in)
        wait_until(lambda: "adding pb" in a.read_node_log(), within(20),
                   interval=0.005, msg="pa adds pb")
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            if "joined the cluster as a learner" in b.read_node_log():
                self.skipTest("pb opened its log before it was paused")
            c = self.node("pc", join=a.addr)
            wait_until(lambda: "joined the cluster as a learner" in
                       c.read_node_log(), within(20), interval=0.1,
                       msg="pc joins")
            time.sleep(1.5)  # three promotion looks
            self.assertEqual(gauge(a, "naos_raft_voters"), 1)
            self.assertEqual(gauge(a, "naos_raft_leader"), 1)
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
        for n in (a, b, c):
            self.wait_roles(n, {"pa": "leader", "pb": "voter",
                                "pc": "voter"})

    def test_join_amid_a_lone_log_of_a_seeds_node(self):
        """A node started with `start --seeds A` keeps a lone log of its
        own (as the usage says) and takes no joiner in: a joiner whose
        seed A is slow (paused 3 s) asks it in turn and is sent on, so it
        ends in A's log only (found in review: it used to be added to
        both, and to follow both leaders once sx restarted)."""
        a = self.node("sa")
        x = self.node("sx", extra=["--seeds", a.addr])
        wait_until(lambda: a.members().get("sx", {}).get("state") ==
                   "alive", within(20), interval=0.1, msg="sa sees sx")
        j = self.node("sj", join=a.addr)
        wait_until(lambda: "sx" in j.read_node_log(), within(20),
                   interval=0.005, msg="sj hears of sx")
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(3)
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        wait_until(lambda: "joined the cluster as a learner" in
                   j.read_node_log(), within(20), interval=0.1,
                   msg="sj joins")
        self.assertEqual(x.stop_node(), 0)
        x.start_node()
        time.sleep(3)
        # what `join sa` should give: sj in sa's log only
        self.assertNotIn("adding sj", x.read_node_log())

    def test_name_taken_until_removed(self):
        a = self.node("na")
        b = self.node("nb", join=a.addr)
        self.wait_roles(a, {"na": "leader", "nb": "learner"})
        b.kill9()
        wait_until(lambda: a.members()["nb"]["state"] == "dead",
                   within(20), interval=0.1, msg="nb seen dead")
        # a new node (empty data: a new id) under nb's name: refused, at
        # times before it answered the harness's first ping (then the
        # harness reaped it and removed its dirs)
        try:
            b2 = self.node("nb", join=a.addr)
        except AssertionError as e:
            self.assertIn("exited with 100", str(e))
            log = str(e)
        else:
            wait_until(lambda: b2.proc.poll() is not None, within(20),
                       interval=0.1, msg="the second nb stops")
            self.assertEqual(b2.proc.returncode, 100, b2.read_node_log())
            log = b2.read_node_log()
            b2.proc = None
            b2.node_log.close()
        self.assertIn("the name nb is taken by member", log)
        self.assertIn("naos nodes remove nb", log)
        # nothing changed on the cluster
        self.assertEqual(self.roles(a).get("na"), "leader")
        self.assertEqual(gauge(a, "naos_raft_voters"), 1)
        # removed for good, the name is free again
        r = a.naos("nodes", "remove", "nb")
        self.assertEqual(r.code, 0, r)
        b3 = self.node("nb", join=a.addr)
        self.wait_roles(a, {"na": "leader", "nb": "learner"})
        self.assertIsNone(b3.proc.poll())

    def assert_idle(self, nodes, seconds=2.0):
        """Each node's loop sleeps at idle: a deadline in the past would
        spin it at 100% of a CPU."""
        before = {n.name: cpu_seconds(n.proc.pid) for n in nodes}
        time.sleep(seconds)
        for n in nodes:
            used = cpu_seconds(n.proc.pid) - before[n.name]
            self.assertLess(used, 0.25 * seconds,
                            "%s used %.2f s of CPU in %.1f s at idle" %
                            (n.name, used, seconds))

    def test_no_voter_stays_learner(self):
        a = self.node("va")
        self.assert_idle([a])  # a lone node
        b = self.node("vb", join=a.addr, extra=["--no-voter"])
        c = self.node("vc", join=a.addr, extra=["--no-voter"])
        self.wait_roles(a, {"va": "leader", "vb": "learner",
                            "vc": "learner"})
        # a leader with learners it does not promote, and the learners
        self.assert_idle([a, b, c])
        self.assertEqual(gauge(a, "naos_raft_voters"), 1)
        self.assertEqual(self.roles(c).get("vb"), "learner")

    def restart_refused(self, n, why):
        """n, stopped, started again as it now says (command, flags):
        refused before it serves, exit 100 and why in its log; its dirs
        are removed."""
        self.started.remove(n)
        with self.assertRaises(AssertionError) as e:
            n.start_node()
        self.assertIn("exited with 100", str(e.exception))
        self.assertIn(why, str(e.exception))
        n.proc = None
        shutil.rmtree(n.dir, ignore_errors=True)

    def test_voters_one_keeps_learners(self):
        a = self.node("oa", extra=["--voters", "1"])
        b = self.node("ob", join=a.addr)
        c = self.node("oc", join=a.addr)
        self.wait_roles(a, {"oa": "leader", "ob": "learner",
                            "oc": "learner"})
        time.sleep(1.5)  # three promotion looks
        self.assertEqual(gauge(a, "naos_raft_voters"), 1)
        # the target is the founders' choice, kept: another is refused
        a.stop_node()
        a.extra_args[a.extra_args.index("1")] = "3"
        self.restart_refused(a, "keeps 1 voters, recorded when it was "
                             "founded")

    def test_start_refused_on_a_joiners_data(self):
        # a seed nobody answers: the joiner keeps asking, joined to
        # nothing; stopped, its data is a joiner's, not a lone node's
        dead = "tcp://127.0.0.1:%d" % free_tcp_ports(1)[0]
        j = self.node("jj", join=dead)
        self.assertEqual(j.stop_node(), 0)
        j.command = ["start"]
        self.restart_refused(j, "was joining a cluster")

    def test_join_refuses_a_lone_nodes_data(self):
        a = self.node("la")
        lone = self.node("lone")
        r = lone.naos("deploy", "mine", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        lone.stop_node()
        lone.command = ["join", a.addr]
        self.restart_refused(lone, "holds the log of a node that ran alone")


if __name__ == "__main__":
    unittest.main()
