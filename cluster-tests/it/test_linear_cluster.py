# SPDX-License-Identifier: Apache-2.0
"""Checkpoints are linearizable registers on a cluster of three voters,
read and written through every node, across kill -9 of the leader
(RAFT-LITE §6.5; ReadIndex, docs/architecture.md "Raft-lite"): three
founders on loopback, concurrent clients spread over the three nodes'
control sockets (naos-linload -run A,B,C: client i talks to node i mod 3)
save unique values to and load three deployments' checkpoints (one on
each node: saves and loads go to the node that runs the deployment,
which confirms a read index first); the leader of the moment is killed
with kill -9 and restarted, twice; porcupine (naos-lincheck) then checks
the whole history. A lost acknowledged save, or a load answered from
stale state, fails it. The run is bounded (NAOS_LINEAR_SECONDS, default
16 s) and must have acknowledged saves and answered loads between
crashes, loads answered through ReadIndex.

What it can and cannot catch: before saves and loads were routed to the
deployment's node, loads answered from any node's own state failed it 3
of 3 runs; with that routing a node answers loads only of what it
acknowledged itself, and the history stays linearizable even without
ReadIndex (3 of 3 runs). ReadIndex's own teeth are in raft_test and the
simulator (docs/architecture.md "Raft-lite").

Crash safety (issue 11): the same load across kill -9 of a random node
(leader or follower, the node that runs a register included; 5 in 20 s,
NAOS_LINEAR_ANY_CRASHES / _SECONDS), then every node, once it has applied
the same index, loads the same checkpoint of every register.

Partitions (issue 11): the same load while the network is cut
(NAOS_TESTING_PARTITION_FILE, node/wire/cut.h: a node sends nothing to
the addresses its file lists): the leader cut off from both others, a
follower cut off, or the link between two nodes cut with the third one a
bridge; each held for a few seconds, then healed (4 in 24 s,
NAOS_LINEAR_CUTS / _CUT_SECONDS); then the same checks as for crashes.

Also: a leader stopped (SIGSTOP) while the others elect a new one and
save a newer value, then resumed: its first load is the new value or
"try again", never the old one.

cluster-tests/linear/run-cluster.sh runs the two load tests for longer."""
import collections
import json as jsonlib
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import promtext
from harness import (Node, exit_all, free_tcp_ports, keygen, member_args,
                     wait_until, within)

LOAD = os.environ.get("NAOS_LINLOAD_BIN")
CHECK = os.environ.get("NAOS_LINCHECK_BIN")
ARTIFACTS = os.environ.get("NAOS_IT_ARTIFACTS")
KEYS = ["reg0", "reg1", "reg2"]
SECONDS = float(os.environ.get("NAOS_LINEAR_SECONDS", "16"))
CRASHES = int(os.environ.get("NAOS_LINEAR_CRASHES", "2"))
CLIENTS = int(os.environ.get("NAOS_LINEAR_CLIENTS", "6"))
OPS = int(os.environ.get("NAOS_LINEAR_OPS", "5000"))
# the crash-safety run: kill -9 of any node
ANY_SECONDS = float(os.environ.get("NAOS_LINEAR_ANY_SECONDS", "20"))
ANY_CRASHES = int(os.environ.get("NAOS_LINEAR_ANY_CRASHES", "5"))
# the partition run: the leader, a follower, or one link cut, then healed
CUT_SECONDS = float(os.environ.get("NAOS_LINEAR_CUT_SECONDS", "24"))
CUTS = int(os.environ.get("NAOS_LINEAR_CUTS", "4"))


def leader_of(nodes):
    """The one node whose /metrics says it leads, or None."""
    leaders = []
    for n in nodes:
        try:
            if promtext.value(n.metrics(), "naos_raft_leader") == 1:
                leaders.append(n)
        except Exception:  # a node just killed or restarting
            pass
    return leaders[0] if len(leaders) == 1 else None


class LinearCluster(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nlinc", dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(3)]
        self.nodes = []
        for i in range(3):
            self.nodes.append(Node(name="l%d" % i, extra_args=member_args(
                self.addrs, i, self.key)))
        self.started = []

    def tearDown(self):
        problems = exit_all(self.started)
        shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("teardown: " + "; ".join(problems))

    def check(self, hist):
        html = os.path.join(self.dir, "history.html")
        p = subprocess.run([CHECK, "-timeout", "120s", "-html", html, hist],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0 and ARTIFACTS:
            os.makedirs(ARTIFACTS, exist_ok=True)
            if os.path.exists(html):
                shutil.copy(html, os.path.join(
                    ARTIFACTS, "linear-cluster-history.html"))
            shutil.copy(hist, os.path.join(
                ARTIFACTS, "linear-cluster-history.jsonl"))
        self.assertEqual(p.returncode, 0,
                         "not linearizable:\n%s%s" % (p.stdout, p.stderr))
        return p.stdout

    def test_checkpoints_linearizable_on_three_nodes_across_leader_kill9(self):
        self.run_history(SECONDS, CRASHES, "leader")

    def test_checkpoints_linearizable_across_kill9_of_any_node(self):
        """Crash safety: kill -9 of a random node (leader or not, the
        node that runs a register included) under load, restarted at once;
        the history stays linearizable (no acknowledged save lost), and
        once every node has applied the same index, every node loads the
        same checkpoint (seq and value) of every register."""
        self.run_history(ANY_SECONDS, ANY_CRASHES, "any")

    def test_checkpoints_linearizable_across_partitions(self):
        """The load while the leader, a follower, or one link between two
        nodes is cut off for a few seconds, then healed; the history stays
        linearizable, saves go on on the majority's side, and every node
        ends with the same checkpoints."""
        self.cuts = [os.path.join(self.dir, "cut-l%d" % i) for i in range(3)]
        self.nodes = [Node(name="l%d" % i, extra_args=member_args(
            self.addrs, i, self.key),
            env={"NAOS_TESTING_PARTITION_FILE": self.cuts[i]})
            for i in range(3)]
        # a client whose node or register is cut off gives up after 2 s
        # (an outcome unknown), so the others' work goes on in the history;
        # not scaled for sanitizers (an answered operation takes well
        # under a second there too, and 6 s would outlast a cut's window)
        self.run_history(CUT_SECONDS, CUTS, "partition", op_timeout=2,
                         scale_op_timeout=False)

    def cut(self, pairs):
        """Cuts the links between the nodes of each pair (indices); an
        empty list heals everything."""
        lines = [[] for _ in range(3)]
        for a, b in pairs:
            lines[a].append(self.addrs[b])
            lines[b].append(self.addrs[a])
        for i in range(3):
            tmp = self.cuts[i] + ".tmp"
            with open(tmp, "w") as f:
                f.write("".join(line + "\n" for line in lines[i]))
            os.rename(tmp, self.cuts[i])

    def partition(self, rng):
        """Cuts the network one of three ways; returns what it did."""
        way = rng.choice(["leader", "follower", "link"])
        leader = leader_of(self.nodes)
        li = self.nodes.index(leader) if leader else rng.randrange(3)
        others = [i for i in range(3) if i != li]
        if way == "leader":
            self.cut([(li, others[0]), (li, others[1])])
            return "leader l%d cut off" % li
        if way == "follower":
            f = rng.choice(others)
            self.cut([(f, i) for i in range(3) if i != f])
            return "follower l%d cut off" % f
        a = rng.choice(others)
        self.cut([(li, a)])
        return "link l%d-l%d cut" % (li, a)

    def run_history(self, span, ncrashes, victims, op_timeout=12,
                    scale_op_timeout=True):
        """The load for span seconds with ncrashes kill -9 of the leader
        (victims "leader") or of a random node ("any"), or as many
        partitions ("partition"), at even times."""
        rng = random.Random(int(os.environ.get("NAOS_LINEAR_SEED", "7")))
        for n in self.nodes:
            n.__enter__()
            self.started.append(n)
        leader = wait_until(lambda: leader_of(self.nodes), within(20),
                            interval=0.05, msg="one leader of 3 voters")
        for k in KEYS:
            # placed by the leader, one per node (fewest deployments)
            r = leader.naos("deploy", k, "--no-wait", "--", "sleep", "1000")
            self.assertEqual(r.code, 0, r)
        # every node has applied the deploys: a load answers on each
        for n in self.nodes:
            for k in KEYS:
                wait_until(lambda: n.naos("checkpoint", "load", k).code in
                           (0, 1) and "no checkpoint saved" in
                           n.naos("checkpoint", "load", k).err,
                           within(10), msg="%s loads %s" % (n.name, k))

        hist = os.path.join(self.dir, "history.jsonl")
        # span: the load's length, not a bound: never scaled
        t0 = time.monotonic()
        load = subprocess.Popen(
            [LOAD, "-cli", os.environ["NAOS_BIN"],
             "-run", ",".join(n.run for n in self.nodes),
             "-keys", ",".join(KEYS), "-clients", str(CLIENTS),
             "-ops", str(OPS), "-duration", "%ds" % span,
             "-op-timeout", "%ds" % (within(op_timeout) if scale_op_timeout
                                     else op_timeout), "-out", hist],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        crashes = []
        try:
            # kill -9 whoever leads (or anyone) at evenly spaced times,
            # restart it at once: its clients see a refused connection
            # meanwhile
            gap = span / (ncrashes + 1)
            for c in range(ncrashes):
                at = span * (c + 1) / (ncrashes + 1)
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                if victims == "partition":
                    what = self.partition(rng)
                    crashes.append((time.monotonic() - t0, what))
                    time.sleep(gap / 2)
                    self.cut([])
                    continue
                if victims == "leader":
                    victim = wait_until(lambda: leader_of(self.nodes),
                                        within(10), interval=0.05,
                                        msg="a leader to kill")
                else:
                    victim = rng.choice(self.nodes)
                t_kill = time.monotonic() - t0
                victim.kill9()
                victim.start_node()
                crashes.append((t_kill, victim.name))
            out, _ = load.communicate(timeout=within(120))
        finally:
            if victims == "partition":
                self.cut([])
            if load.poll() is None:
                load.kill()
                load.wait()
        self.assertEqual(load.returncode, 0, out)
        summary = self.check(hist)
        with open(hist) as f:
            recs = [jsonlib.loads(line) for line in f if line.strip()]
        ok = [r for r in recs if r["outcome"] == "ok"]
        print("\nlinear cluster: %d operations (%d ok: %d saves, %d loads), "
              "%d clients over 3 nodes, %.1f s; %s at %s; "
              "%s" % (len(recs), len(ok),
                      sum(r["op"] == "write" for r in ok),
                      sum(r["op"] == "read" for r in ok), CLIENTS,
                      time.monotonic() - t0,
                      {"leader": "kill -9 of the leader",
                       "any": "kill -9 of any node",
                       "partition": "partitions"}[victims],
                      ", ".join("%.1f s (%s)" % c for c in crashes),
                      summary.strip()))
        # why operations were not ok (the CLI's words, most frequent first)
        why = collections.Counter(
            "%s %s: %s" % (r["op"], r["outcome"],
                           re.sub(r"[0-9]+", "N", r.get("err", ""))[:110])
            for r in recs if r["outcome"] != "ok")
        for line, count in why.most_common(8):
            print("  %5d  %s" % (count, line))
        # worth checking: saves acknowledged and loads answered between
        # crashes, loads answered by each node
        edges = [0.0] + [c[0] for c in crashes] + [1e9]
        # the load ends by its count of operations, maybe just as the last
        # crash comes: a window it had left within a second is not judged
        last = max(r["call_ns"] for r in recs) / 1e9
        for lo, hi in zip(edges, edges[1:]):
            if lo > last - 1.0:
                continue
            part = [r for r in ok if lo <= r["call_ns"] / 1e9 < hi]
            self.assertTrue(any(r["op"] == "write" for r in part),
                            "no save acknowledged in %.1f..%.1f s: %s" %
                            (lo, hi, summary))
            self.assertTrue(any(r["op"] == "read" for r in part),
                            "no load answered in %.1f..%.1f s: %s" %
                            (lo, hi, summary))
        for i in range(3):
            self.assertTrue(any(r["op"] == "read" and r["client"] % 3 == i
                                for r in ok),
                            "no load answered by node l%d" % i)
        # the reads went through ReadIndex (counted on every node)
        served = 0
        for n in self.nodes:
            v = promtext.value(n.metrics(), "naos_reads_served_total")
            served += v or 0
        self.assertGreater(served, 0)
        # every node applies the same log: the same checkpoint everywhere
        seen = {}

        def same_applied():
            for n in self.nodes:
                seen[n.name] = promtext.value(n.metrics(),
                                              "naos_raft_applied_index")
            return len(set(seen.values())) == 1
        try:
            wait_until(same_applied, within(20), interval=0.05,
                       msg="every node applied the same index")
        except AssertionError as e:
            raise AssertionError("%s; applied indexes: %r; the end of each "
                                 "node's log:\n%s" % (e, seen, "\n".join(
                                     "--- %s\n%s" % (n.name,
                                                      n.read_node_log()
                                                      [-2000:])
                                     for n in self.nodes)))
        def load(n, k, json=False):
            # exit 1 is also "busy, try again" (a read index not confirmed
            # yet right after the last heal): asked again, bounded
            deadline = time.monotonic() + within(10)
            while True:
                r = n.naos("checkpoint", "load", k, json=json)
                if (r.code != 1 or "try again" not in r.err or
                        time.monotonic() > deadline):
                    return r
                time.sleep(0.1)  # a backoff between attempts, not a wait

        for k in KEYS:
            got = {}
            for n in self.nodes:
                meta = load(n, k, json=True)
                data = load(n, k)
                self.assertIn(meta.code, (0, 1), meta)
                self.assertEqual(data.code, meta.code, (meta, data))
                got[n.name] = (meta.data.get("seq") if meta.data else None,
                               meta.data.get("saved_at")
                               if meta.data else None, data.out)
            self.assertEqual(len(set(got.values())), 1, (k, got))

    def test_paused_leader_never_answers_from_its_stale_state(self):
        """A leader stopped (SIGSTOP) while the others elect a new one and
        save a newer value, then resumed: its first load answers the new
        value or says "try again", never the old one it still holds."""
        for n in self.nodes:
            n.__enter__()
            self.started.append(n)
        old = wait_until(lambda: leader_of(self.nodes), within(20),
                         interval=0.05, msg="one leader of 3 voters")
        others = [n for n in self.nodes if n is not old]
        # on a follower: loads and saves go to the node that runs it
        r = old.naos("deploy", "reg0", "--no-wait", "--on", others[0].name,
                     "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        wait_until(lambda: old.naos("checkpoint", "save", "reg0",
                                    stdin="old-value").code == 0,
                   within(10), msg="a save once reg0 runs")
        for n in self.nodes:
            wait_until(lambda: n.naos("checkpoint", "load", "reg0").out ==
                       "old-value", within(10),
                       msg="%s loads the old value" % n.name)
        os.kill(old.proc.pid, signal.SIGSTOP)
        try:
            new = wait_until(lambda: leader_of(others), within(10),
                             interval=0.05, msg="a new leader")
            wait_until(lambda: new.naos("checkpoint", "save", "reg0",
                                        stdin="new-value").code == 0,
                       within(10), msg="the new leader saves")
            # the old leader's state still says old-value, and it has not
            # heard of the new term: it is resumed and asked at once
            self.assertEqual(promtext.value(new.metrics(),
                                            "naos_raft_leader"), 1)
        finally:
            os.kill(old.proc.pid, signal.SIGCONT)
        r = old.naos("checkpoint", "load", "reg0")
        self.assertNotEqual(r.out, "old-value", r)
        if r.code == 0:
            self.assertEqual(r.out, "new-value", r)
        else:
            self.assertIn("try again", r.err, r)
        print("\nresumed old leader's first load: %s" %
              (r.out if r.code == 0 else r.err.strip()))
        wait_until(lambda: old.naos("checkpoint", "load", "reg0").out ==
                   "new-value", within(10),
                   msg="the old leader loads the new value")


if __name__ == "__main__":
    unittest.main()
