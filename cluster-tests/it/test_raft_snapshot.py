# SPDX-License-Identifier: Apache-2.0
"""Snapshots for a voter behind the compacted log, on real nodes: three
founders on loopback whose logs keep only 3 applied entries for a voter
that lags (NAOS_TESTING_RAFT_KEEP=3, where the default is 5,000). A
follower killed (kill -9) while the others commit and compact past its
log, then restarted, is sent a snapshot of the leader's applied state: it
installs it (naos_raft_snapshots_installed_total), has the same
deployments as the leader, applies what follows from the log, and its
trees follow the installed state (a deployment removed while it was down
does not come back; one still placed on it runs again). Its restart from
the installed store works, and no file of the transfer is left. A LIVE
follower, cut off (NAOS_TESTING_PARTITION_FILE: what is sent to it is
lost, not queued) while the others remove, redeploy and compact, installs
one once healed and its running trees follow it: the removed deployment
stops, the redeployed one runs its new spec, the unchanged one keeps its
process, a held child is started. Leases are 60 s here
(NAOS_TESTING_LEASE_MS): the cut, however long a loaded machine makes
it, is not a lost lease (test_root_failover.py tests those). Every node is reaped by PID and its
temp dirs removed; the transfer's time is printed."""
import os
import time
import unittest
import uuid

from harness import (FoundersTest, free_tcp_ports, gauge, pid_alive,
                     pid_gone, processes_with_env, wait_until, within)


class RaftSnapshot(FoundersTest):
    dir_prefix = "nrsnap"
    name_prefix = "s"

    def founders_env(self, i):
        return {"NAOS_TESTING_RAFT_KEEP": "3",
                "NAOS_TESTING_PARTITION_FILE": self.cut(i),
                "NAOS_TESTING_LEASE_MS": "60000"}

    def cut(self, i):
        return os.path.join(self.dir, "cut%d" % i)

    def applied(self, n):
        return gauge(n, "naos_raft_applied_index")

    def names(self, n):
        """The deployments n's applied state holds (cluster-wide view)."""
        return sorted(d["name"] for d in n.status(local=False)["deployments"])

    def deploy(self, via, name, on, trace=None, secs="1000"):
        """Deploys `sleep secs` pinned on node `on`, through via; a leader
        that has not committed its first entry yet says to try again
        (exit 1), and is asked again."""
        args = ["deploy", name, "--no-wait", "--on", on]
        if trace:
            args += ["--env", trace]
        r = self.naos_ready(via, *(args + ["--", "sleep", secs]))
        self.assertEqual(r.code, 0, r)

    def wait_same(self, nodes, what):
        seen = {}

        def same():
            for n in nodes:
                seen[n.name] = self.applied(n)
            return len(set(seen.values())) == 1 and min(seen.values())
        try:
            return wait_until(same, within(20), interval=0.05, msg=what)
        except AssertionError as e:
            raise AssertionError("%s; applied: %r" % (e, seen))

    def cut_off(self, f, cut=True):
        """Cuts f's links to the others both ways (cut=False heals): what
        is sent over them is lost, not queued."""
        i = self.nodes.index(f)
        for j in range(3):
            lines = []
            if cut:
                lines = ([a for k, a in enumerate(self.addrs) if k != i]
                         if j == i else [self.addrs[i]])
            tmp = self.cut(j) + ".tmp"
            with open(tmp, "w") as out:
                out.write("".join(a + "\n" for a in lines))
            os.rename(tmp, self.cut(j))

    def restart_elsewhere(self, f):
        """Restarts f (stopped) on another gossip port: the appends the
        leader queued for its old address carry the entries it lacks
        (from before the leader compacted them) and must not reach it, or
        it would catch up from them instead of needing a snapshot."""
        new_addr = "tcp://127.0.0.1:%d" % free_tcp_ports(1)[0]
        old_addr = self.addrs[self.nodes.index(f)]
        f.extra_args = [new_addr if a == old_addr else a
                        for a in f.extra_args]
        self.addrs[self.nodes.index(f)] = new_addr
        f.start_node()

    def test_follower_behind_the_log_installs_a_snapshot_and_reconciles(self):
        leader = self.leader(self.nodes)
        f, g = [n for n in self.nodes if n is not leader]
        trace = "NAOS_IT_RSNAP=" + uuid.uuid4().hex
        self.traces.append(trace)
        self.deploy(leader, "onf", f.name, trace)
        self.deploy(leader, "keep", f.name, trace)
        onf = f.wait_running_pid("onf/onf", within(10))
        f.wait_running_pid("keep/keep", within(10))
        self.wait_same(self.nodes, "all applied the first deployments")
        f_applied = self.applied(f)
        f.kill9()  # its workers die with it (PR_SET_PDEATHSIG)
        wait_until(lambda: pid_gone(onf), within(10), msg="onf's worker gone")
        r = leader.naos("rm", "onf")
        self.assertEqual(r.code, 0, r)
        for k in range(8):
            self.deploy(leader, "b%d" % k, leader.name)
        self.wait_same([leader, g], "the two alive applied b0..b7")
        self.assertGreater(gauge(leader, "naos_raft_first_index"),
                           f_applied + 1,
                           "the leader compacted past the follower's log")
        t0 = time.monotonic()
        self.restart_elsewhere(f)
        wait_until(lambda: gauge(f, "naos_raft_snapshots_installed_total")
                   >= 1, within(20), interval=0.05,
                   msg="the follower installed a snapshot")
        took = time.monotonic() - t0
        self.wait_same(self.nodes, "the follower caught up")
        self.assertEqual(self.names(f), self.names(leader))
        self.assertNotIn("onf", self.names(f))
        self.assertIn("b7", self.names(f))
        # the trees follow the installed state: keep runs again on f, the
        # removed onf does not
        keep = f.wait_running_pid("keep/keep", within(15))
        self.assertEqual(processes_with_env(trace), [keep])
        self.assertIsNone(f.dep("onf"))
        wait_until(lambda: gauge(leader, "naos_raft_snapshots_sent_total")
                   >= 1, within(5), interval=0.05,
                   msg="the leader counted the snapshot sent")
        self.assertGreater(
            gauge(leader, "naos_raft_snapshot_sent_bytes_total"), 0)
        self.assertTrue(f.events(kind="snapshot"), f.events())
        # new entries reach it from the log
        self.deploy(leader, "c0", leader.name)
        self.wait_same(self.nodes, "c0 applied everywhere")
        self.assertIn("c0", self.names(f))
        print("\nsnapshot: the restarted follower installed it %.2f s after "
              "its start began" % took)

    def test_live_follower_behind_the_log_installs_and_follows(self):
        leader = self.leader(self.nodes)
        f, g = [n for n in self.nodes if n is not leader]
        trace = "NAOS_IT_RSNAP=" + uuid.uuid4().hex
        self.traces.append(trace)
        names = ("gone", "re", "keep", "held")
        for name in names:
            self.deploy(leader, name, f.name, trace)
        pid = {name: f.wait_running_pid("%s/%s" % (name, name), within(10))
               for name in names}
        r = f.naos("stop", "held/held")  # a hold, in f's memory only
        self.assertEqual(r.code, 0, r)
        wait_until(lambda: pid_gone(pid["held"]), within(10),
                   msg="held/held stopped")
        self.wait_same(self.nodes, "all applied the first deployments")
        f_applied = self.applied(f)
        self.cut_off(f)
        # at once: membership still sees f alive, so re may be pinned to it
        for cmd in (["rm", "re"], ["rm", "gone"]):
            r = leader.naos(*cmd)
            self.assertEqual(r.code, 0, r)
        self.deploy(leader, "re", f.name, trace, secs="2000")
        for k in range(8):
            self.deploy(leader, "b%d" % k, leader.name)
        self.wait_same([leader, g], "the two alive applied b0..b7")
        self.assertGreater(gauge(leader, "naos_raft_first_index"),
                           f_applied + 1,
                           "the leader compacted past the follower's log")
        self.assertEqual(self.applied(f), f_applied, "f was cut off")
        self.assertTrue(pid_alive(pid["gone"]), "f's trees ran on, cut off")
        self.cut_off(f, cut=False)
        wait_until(lambda: gauge(f, "naos_raft_snapshots_installed_total")
                   >= 1, within(30), interval=0.05,
                   msg="the live follower installed a snapshot")
        self.wait_same(self.nodes, "the follower caught up")
        self.assertEqual(self.names(f), self.names(leader))
        # its trees follow the installed state, what is unchanged untouched
        wait_until(lambda: pid_gone(pid["gone"]), within(15),
                   msg="gone's worker stopped")
        self.assertIsNone(f.dep("gone"))
        re = f.wait_running_pid("re/re", within(15), other_than=pid["re"])
        with open("/proc/%d/cmdline" % re, "rb") as cl:
            self.assertEqual(cl.read().split(b"\0")[:2],
                             [b"sleep", b"2000"])
        self.assertTrue(pid_gone(pid["re"]))
        self.assertEqual(f.wait_running_pid("keep/keep"), pid["keep"])
        held = f.wait_running_pid("held/held", within(15))
        self.assertEqual(sorted(processes_with_env(trace)),
                         sorted([re, pid["keep"], held]))

    def test_restarted_follower_behind_the_log_installs_and_restarts(self):
        leader = self.leader(self.nodes)
        f, g = [n for n in self.nodes if n is not leader]
        self.deploy(leader, "a0", leader.name)
        self.wait_same(self.nodes, "a0 applied")
        f.kill9()
        for k in range(8):
            self.deploy(leader, "b%d" % k, g.name)
        self.wait_same([leader, g], "b0..b7 applied")
        self.restart_elsewhere(f)
        wait_until(lambda: gauge(f, "naos_raft_snapshots_installed_total")
                   >= 1, within(20), interval=0.05,
                   msg="the restarted follower installed a snapshot")
        self.wait_same(self.nodes, "the restarted follower caught up")
        self.assertEqual(self.names(f), self.names(leader))
        # its store holds the installed state and log: a restart works
        f.kill9()
        self.deploy(leader, "c0", leader.name)
        f.start_node()
        self.wait_same(self.nodes, "restarted again from the installed store")
        self.assertIn("c0", self.names(f))
        self.assertEqual(gauge(f, "naos_raft_snapshots_installed_total"), 0,
                         "this time the log was enough")
        # no file of the transfer is left in the data directories
        for n in self.nodes:
            left = [e for e in os.listdir(n.data) if "snapshot" in e]
            self.assertEqual(left, [], n.name)


if __name__ == "__main__":
    unittest.main()
