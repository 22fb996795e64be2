# SPDX-License-Identifier: Apache-2.0
"""A replicated cluster of real nodes on loopback: three founders started
with `naos-node start --listen ADDR --key FILE --seeds OTHERS
--bootstrap-expect 3` found one Raft log of 3 voters and elect one leader;
commands are taken on the leader only (a follower names it, a forming
node says so, nothing changed either way); a deployment runs only on the
node that proposed it while its record reaches every node; after kill -9
of the leader the survivors elect a new one and take commands, and the
killed node restarted with the same flags rejoins as a follower, catches
up, and runs its deployment again. Also the usage errors of
--bootstrap-expect and the refusal of a data directory that already holds
a lone node's log.

The founders' gossip ports are chosen before they start (each names the
other two as --seeds, and a restarted node comes back on its own port):
harness.free_tcp_ports draws them below the ephemeral range, so parallel
tests binding port 0 never take them. Raft state is read from each node's
/metrics (naos_raft_*). Every node is reaped by PID and its temp dirs
removed; figures (formation, failover, catch-up) are printed."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import promtext
from harness import (NAOS_BIN, NODE_BIN, Node, exit_all, find_node,
                     free_tcp_ports, keygen, member_args, pid_alive, pid_gone,
                     proc_ppid, processes_with_env, wait_until, within)

RAFT = ("voters", "term", "leader", "commit_index", "applied_index",
        "elections_total")


def raft_state(node):
    """node's naos_raft_* gauges and counters: {"term": ..., ...}."""
    fams = node.metrics()
    return {k: promtext.value(fams, "naos_raft_" + k) for k in RAFT}


class RaftCluster(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nraft", dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(3)]
        self.founders = self.make_founders()
        self.started = []
        self.traces = []

    def make_founders(self, extra=lambda i: [], env=None):
        """The three founders r0..r2 (not started), with extra(i) more
        flags for r{i} and env for each."""
        return [Node(name="r%d" % i,
                     extra_args=member_args(self.addrs, i, self.key) +
                     extra(i), env=env)
                for i in range(3)]

    def tearDown(self):
        problems = exit_all(self.started)
        shutil.rmtree(self.dir, ignore_errors=True)
        for t in self.traces:
            left = processes_with_env(t)
            if left:
                problems.append("workers outlived the cluster: %r" % left)
        if problems:
            raise AssertionError("teardown: " + "; ".join(problems))

    def start(self, i):
        n = self.founders[i]
        n.__enter__()
        self.started.append(n)
        return n

    # ---- waiting on the log ---------------------------------------------

    def wait_leader(self, nodes, timeout, what, above_term=0):
        """Until exactly one of nodes leads, every one counts 3 voters and
        all are in the same term (above above_term). Returns (leader,
        {name: raft_state})."""
        seen = {}

        def one_leader():
            for n in nodes:
                seen[n.name] = raft_state(n)
            leaders = [n for n in nodes if seen[n.name]["leader"] == 1]
            terms = {s["term"] for s in seen.values()}
            if (len(leaders) == 1 and len(terms) == 1 and
                    terms.pop() > above_term and
                    all(s["voters"] == 3 for s in seen.values())):
                return leaders[0]
            return None
        try:
            leader = wait_until(one_leader, timeout, interval=0.02, msg=what)
        except AssertionError as e:
            raise AssertionError("%s; last states: %r" % (e, seen))
        return leader, dict(seen)

    def wait_applied(self, nodes, index, timeout, what):
        """Until every node has applied the same index, at least index.
        Returns that index."""
        seen = {}

        def caught_up():
            for n in nodes:
                seen[n.name] = raft_state(n)["applied_index"]
            vals = set(seen.values())
            return len(vals) == 1 and min(vals) >= index and min(vals)
        try:
            return wait_until(caught_up, timeout, interval=0.02, msg=what)
        except AssertionError as e:
            raise AssertionError("%s; applied indexes: %r" % (e, seen))

    def deploy_traced(self, node, name, nodes=None):
        """Deploys `sleep 1000` as name through node with an environment
        entry of its own (no harness marker: the worker may run on another
        node than the one asked; tearDown checks no traced process
        outlives the cluster). Returns (that entry, the worker's pid, the
        node it was placed on, as the reply names it)."""
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        out = node.ok("deploy", name, "--no-wait", "--env", trace, "--",
                      "sleep", "1000").out
        m = re.search(r"deployed %s on (\S+) \(epoch (\d+)\)" % name, out)
        self.assertIsNotNone(m, out)
        owner = [n for n in (nodes or self.founders)
                 if n.name == m.group(1)]
        self.assertEqual(len(owner), 1, out)
        pid = owner[0].wait_running_pid("%s/%s" % (name, name), within(10))
        return trace, pid, owner[0]

    # ---- tests ------------------------------------------------------------

    def test_three_founders_elect_one_leader_and_replicate(self):
        t0 = time.monotonic()
        for i in range(3):
            self.start(i)
        t_last = time.monotonic()
        leader, st = self.wait_leader(self.founders, within(20),
                                      "one leader of 3 voters")
        print("\nformation: %.2f s after the first founder started, %.2f s "
              "after the last one answered; leader %s in term %d" %
              (time.monotonic() - t0, time.monotonic() - t_last, leader.name,
               st[leader.name]["term"]))
        for n in self.founders:
            self.assertIn("raft: founded the cluster's log with 3 voters",
                          n.read_node_log(), n.name)
        self.assertIn("raft: leader in term %d" % st[leader.name]["term"],
                      leader.read_node_log())
        followers = [n for n in self.founders if n is not leader]

        # pinned with --on, through a follower: on that node, whatever the
        # load
        pin = followers[0]
        trace_p = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace_p)
        r = followers[1].naos("deploy", "pinned", "--on", pin.name, "--env",
                              trace_p, "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        self.assertIn("deployed pinned on %s" % pin.name, r.out)
        pid_p = pin.wait_running_pid("pinned/pinned", within(10))
        self.assertEqual(proc_ppid(pid_p), pin.proc.pid)
        r = followers[1].ok("rm", "pinned")
        wait_until(lambda: pid_gone(pid_p), within(10),
                   msg="pinned's worker gone after rm")

        # deploys that wait for the first start, through the leader,
        # placed on every node (the node asked may apply a moment later)
        for k in range(3):
            r = leader.naos("deploy", "wait%d" % k, "--", "sleep", "1000")
            self.assertEqual(r.code, 0, r)
        for k in range(3):
            leader.ok("rm", "wait%d" % k)

        # three deploys through the leader go to three different nodes
        # (the least loaded; a node's own picks in flight count), each
        # running there only
        placed = {}
        for name in ("x", "y", "z"):
            placed[name] = self.deploy_traced(leader, name)
        self.assertEqual(sorted(o.name for _, _, o in placed.values()),
                         ["r0", "r1", "r2"], placed)
        commit = raft_state(leader)["commit_index"]
        self.assertGreater(commit, st[leader.name]["commit_index"])
        applied = self.wait_applied(self.founders, commit, within(10),
                                    "every node applied the deploys")
        for name, (trace, pid, owner) in placed.items():
            self.assertEqual(processes_with_env(trace), [pid], name)
            self.assertEqual(proc_ppid(pid), owner.proc.pid, name)
            for n in self.founders:  # `naos status --local`: what runs here
                self.assertEqual(n.dep(name) is not None, n is owner,
                                 (name, n.name))

        # `naos nodes` names the leader, the term and every voter's role
        for n in self.founders:
            doc = n.ok("nodes", json=True).data
            self.assertEqual((doc["leader"], doc["term"]),
                             (leader.name, st[leader.name]["term"]), n.name)
            roles = {m["name"]: m["role"] for m in doc["nodes"]}
            self.assertEqual(roles, {f.name: "leader" if f is leader
                                     else "voter" for f in self.founders})

        # `naos status` on any node shows the cluster: every deployment,
        # its node and epoch, its tree as that node reports it
        for n in self.founders:
            doc = n.status(local=False)
            self.assertEqual(doc["cluster"]["leader"], leader.name, n.name)
            self.assertEqual(doc["cluster"]["voters"], 3)
            deps = {d["name"]: d for d in doc["deployments"]}
            self.assertEqual(sorted(deps), ["x", "y", "z"], n.name)
            for name, (trace, pid, owner) in placed.items():
                d = deps[name]
                self.assertEqual((d["node"], d["state"]),
                                 (owner.name, "running"), (n.name, d))
                self.assertGreater(d["epoch"], 0)
                self.assertNotIn("node_state", d)
                self.assertEqual(d["tree"]["children"][0]["pid"], pid)
        out = followers[0].ok("status").out
        self.assertIn("cluster: leader %s, term %d" %
                      (leader.name, st[leader.name]["term"]), out)
        self.assertRegex(out, r"x  running  .*on r[012] \(epoch \d+\)")

        # cluster events on every node: the leader, each placement
        for n in self.founders:
            evs = n.events()
            self.assertIn(("leader", leader.name, "term %d" %
                           st[leader.name]["term"]),
                          [(e["kind"], e.get("path"), e.get("detail"))
                           for e in evs], n.name)
            placed_ev = {e["deployment"]: e.get("detail") for e in evs
                         if e["kind"] == "placed"}
            for name, (_, _, owner) in placed.items():
                self.assertRegex(placed_ev.get(name, ""),
                                 r"^on %s \(epoch \d+\)$" % owner.name)

        # a worker's log from any node (asked of its node)
        for n in self.founders:
            r = n.naos("logs", "x")
            self.assertEqual(r.code, 0, (n.name, r))

        # a checkpoint of each, saved through every node (the node that
        # runs the agent resolves it; a follower relays the entry to the
        # leader), reads back the same everywhere
        blob = os.path.join(self.dir, "blob")
        for name in placed:
            for via in self.founders:
                with open(blob, "w") as f:
                    f.write("state of %s via %s\n" % (name, via.name))
                r = via.naos("checkpoint", "save", name, "-f", blob)
                self.assertEqual(r.code, 0, (name, via.name, r))
                self.assertIn("saved checkpoint", r.out)
        applied = self.wait_applied(self.founders,
                                    raft_state(leader)["commit_index"],
                                    within(10), "every node applied the "
                                    "checkpoints")
        for name in placed:
            for via in self.founders:
                r = via.naos("checkpoint", "load", name)
                self.assertEqual(r.code, 0, (name, via.name, r))
                self.assertEqual(r.out, "state of %s via r2\n" % name,
                                 (name, via.name))

        # /metrics: the leader counts its proposals (each save too); every
        # node, whose agent's three saves it proposed or relayed, its
        # commands' latency; the store's use against its map
        fams = leader.metrics()
        self.assertGreaterEqual(
            promtext.value(fams, "naos_raft_proposals_total"), 9 + 7)
        self.assertGreaterEqual(
            promtext.value(fams, "naos_raft_leader_terms_total"), 1)
        for n in self.founders:
            fams = n.metrics()
            hist = {nm: v for nm, _, v in
                    fams["naos_command_duration_seconds"]["samples"]}
            self.assertGreaterEqual(
                hist["naos_command_duration_seconds_count"], 3, n.name)
            self.assertGreater(hist["naos_command_duration_seconds_sum"], 0,
                               n.name)
            used = promtext.value(fams, "naos_store_used_bytes")
            self.assertGreater(used, 0, n.name)
            self.assertLessEqual(
                used, promtext.value(fams, "naos_store_map_bytes"), n.name)

        # a follower forwards a deploy to the leader, which places it; the
        # follower answers its status by asking that node, and removes it
        f = followers[0]
        r = f.naos("deploy", "w", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"deployed w on r[012] \(epoch \d+\)")
        self.assertIn("running", f.ok("status", "w").out)
        self.wait_applied(self.founders, applied + 1, within(10),
                          "every node applied the forwarded deploy")
        r = f.naos("rm", "w")
        self.assertEqual(r.code, 0, r)

        # and the leader is still the only one, in the same term
        leader2, st2 = self.wait_leader(self.founders, within(5),
                                        "the same single leader")
        self.assertIs(leader2, leader)
        self.assertEqual(st2[leader.name]["term"], st[leader.name]["term"])

    def test_forming_refuses_commands(self):
        first = self.start(0)
        wait_until(lambda: "raft: forming a cluster of 3 voters" in
                   first.read_node_log(), within(10),
                   msg="the forming line in r0's log")
        r = first.naos("deploy", "x", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 1, r)
        self.assertIn("the cluster is forming: 1 of 3 founders of naos-node "
                      "r0 see each other; nothing changed", r.err)
        self.assertIn("no deployments", first.ok("status").out)
        self.assertNotIn("founded the cluster's log", first.read_node_log())

        t0 = time.monotonic()
        self.start(1)
        self.start(2)
        leader, st = self.wait_leader(self.founders, within(20),
                                      "one leader of 3 voters")
        print("\nformation: %.2f s after the last two founders were "
              "started; leader %s in term %d" %
              (time.monotonic() - t0, leader.name, st[leader.name]["term"]))
        # the refused deploy left nothing behind, anywhere
        for n in self.founders:
            self.assertIsNone(n.dep("x"), n.name)
        # and the command is taken now
        trace, pid, owner = self.deploy_traced(leader, "x")
        commit = raft_state(leader)["commit_index"]
        self.wait_applied(self.founders, commit, within(10),
                          "every node applied the deploy")
        self.assertEqual(processes_with_env(trace), [pid])
        self.assertEqual(proc_ppid(pid), owner.proc.pid)

    def test_leader_killed_survivors_elect_and_old_leader_catches_up(self):
        for i in range(3):
            self.start(i)
        old, st = self.wait_leader(self.founders, within(20),
                                   "one leader of 3 voters")
        term0 = st[old.name]["term"]
        # one deployment on each node
        placed = {name: self.deploy_traced(old, name)
                  for name in ("x", "y", "z")}
        self.wait_applied(self.founders, raft_state(old)["commit_index"],
                          within(10), "every node applied x, y, z")
        mine = [k for k, (_, _, o) in placed.items() if o is old]
        self.assertEqual(len(mine), 1, placed)
        mine = mine[0]
        survivors = [n for n in self.founders if n is not old]
        # the survivors gather every node's report once (and keep it)
        for n in survivors:
            n.status(local=False)

        t0 = time.monotonic()
        old.kill9()
        new, st = self.wait_leader(survivors, within(10),
                                   "a new leader among the survivors",
                                   above_term=term0)
        took = time.monotonic() - t0
        print("\nfailover: kill -9 of leader %s (term %d) -> leader %s in "
              "term %d after %.2f s" % (old.name, term0, new.name,
                                        st[new.name]["term"], took))
        self.assertLess(took, within(10))
        # the killed node's worker went with it; the others ran on
        wait_until(lambda: pid_gone(placed[mine][1]), within(10),
                   msg="%s's worker gone with the killed node" % mine)
        for k, (trace, pid, owner) in placed.items():
            if k != mine:
                self.assertEqual(processes_with_env(trace), [pid], k)

        # its guardian certified that nothing of it runs: the new leader
        # moved it to a survivor at once, and the cluster's status says
        # so, with where it came from and why
        t3 = time.monotonic()

        def moved():
            doc = new.status(local=False)
            d = {d["name"]: d for d in doc["deployments"]}[mine]
            return doc if (d.get("node") in [n.name for n in survivors] and
                           d["state"] == "running") else None
        doc = wait_until(moved, within(10), interval=0.05,
                         msg="%s runs on a survivor" % mine)
        print("%s ran on a survivor %.2f s after the new leader was seen" %
              (mine, time.monotonic() - t3))
        deps = {d["name"]: d for d in doc["deployments"]}
        self.assertEqual(doc["cluster"]["leader"], new.name)
        last = deps[mine]["history"][-1]
        self.assertEqual((last["from"], last["reason"]),
                         (old.name, "node-lost"), deps[mine])
        self.assertNotIn("node_state", deps[mine])
        moved_to = [n for n in survivors if n.name == deps[mine]["node"]][0]
        pid_m = moved_to.wait_running_pid("%s/%s" % (mine, mine), within(10))
        for k in placed:
            if k != mine:
                self.assertEqual(deps[k]["reported_ms"], 0, deps[k])
                self.assertEqual(deps[k]["state"], "running", deps[k])

        # pinned to the dead node: refused, naming it and the live ones
        r = new.naos("deploy", "p", "--no-wait", "--on", old.name, "--",
                     "sleep", "1000")
        self.assertEqual(r.code, 100, r)
        self.assertIn("pinned to node %s (--on %s), which is not alive now"
                      % (old.name, old.name), r.err)
        r = new.naos("deploy", "p", "--no-wait", "--on", "nosuch", "--",
                     "sleep", "1000")
        self.assertEqual(r.code, 100, r)
        self.assertIn("which is no voter of this cluster", r.err)
        self.assertIsNone(new.dep("p"))

        # the new leader takes commands and places them on the living
        t1 = time.monotonic()
        trace_w, pid_w, owner_w = self.deploy_traced(new, "w", survivors)
        print("deploy on the new leader took %.2f s" % (time.monotonic() -
                                                         t1))
        self.assertIsNot(owner_w, old)
        other = [n for n in survivors if n is not new][0]
        r = other.naos("deploy", "v", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)  # forwarded to the new leader
        self.assertNotIn("on %s " % old.name, r.out)
        commit = raft_state(new)["commit_index"]

        # the old leader comes back with the same flags and catches up
        t2 = time.monotonic()
        old.start_node()
        applied = self.wait_applied(self.founders, commit, within(20),
                                    "the restarted node caught up")
        print("catch-up: %s applied index %d %.2f s after its restart began"
              % (old.name, applied, time.monotonic() - t2))
        leader, st = self.wait_leader(self.founders, within(10),
                                      "one leader once the old one is back")
        self.assertIsNot(leader, old, "the restarted node leads: %r" % st)
        self.assertEqual(st[old.name]["leader"], 0)

        # its deployment stays where it moved, and runs only there; the
        # others as they were
        trace_m = placed[mine][0]
        self.assertIsNone(old.dep(mine))
        self.assertEqual(processes_with_env(trace_m), [pid_m])
        self.assertEqual(proc_ppid(pid_m), moved_to.proc.pid)
        for k, (trace, pid, owner) in placed.items():
            if k != mine:
                self.assertEqual(processes_with_env(trace), [pid], k)
                self.assertIsNone(old.dep(k), k)
        self.assertEqual(processes_with_env(trace_w), [pid_w])
        self.assertEqual(proc_ppid(pid_w), owner_w.proc.pid)
        # the old leader, a follower now, forwards to the new one
        r = old.naos("deploy", "u", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"deployed u on r[012] \(epoch \d+\)")

    def test_labels_place_required_deployments(self):
        """Founders started with --label gossip them (`naos nodes`); a
        deployment with --require goes to the node that has every label;
        one no live node satisfies is refused naming the labels and the
        nodes' own, and so is a pin to a node that lacks one: nothing
        changed either way."""
        labels = [["zone=us"], ["zone=eu", "gpu=true"], ["zone=eu"]]
        self.founders = self.make_founders(
            extra=lambda i: [a for l in labels[i] for a in ("--label", l)])
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        follower = [n for n in self.founders if n is not leader][0]
        want = {"r0": {"zone": "us"}, "r1": {"zone": "eu", "gpu": "true"},
                "r2": {"zone": "eu"}}
        # every node sees every member's labels (its own: its options)
        for n in self.founders:
            seen = {}

            def all_labels():
                doc = n.ok("nodes", json=True).data
                seen.update({m["name"]: m["labels"] for m in doc["nodes"]})
                return seen == want
            wait_until(all_labels, within(10),
                       msg="%s sees the labels: %r" % (n.name, seen))
        table = leader.ok("nodes").out
        self.assertIn("LABELS", table)
        self.assertIn("zone=eu,gpu=true", table)

        # gpu=true: only r1 has it, whatever the load
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        r = follower.naos("deploy", "g", "--no-wait", "--require",
                          "gpu=true", "--require", "zone=eu", "--env", trace,
                          "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        self.assertIn("deployed g on r1", r.out)
        self.founders[1].wait_running_pid("g/g", within(10))
        # zone=eu, twice: on r1 or r2, never r0
        for name in ("e1", "e2"):
            r = leader.naos("deploy", name, "--no-wait", "--require",
                            "zone=eu", "--", "sleep", "1000")
            self.assertEqual(r.code, 0, r)
            self.assertRegex(r.out, r"deployed %s on r[12] " % name)

        # unsatisfiable: refused, naming the labels and the nodes' own
        commit = raft_state(leader)["commit_index"]
        r = follower.naos("deploy", "nowhere", "--no-wait", "--require",
                          "zone=eu", "--require", "gpu=false", "--", "sleep",
                          "1000")
        self.assertEqual(r.code, 100, r)
        self.assertIn("no live node has the labels zone=eu, gpu=false "
                      "(live nodes: ", r.err)
        for part in ("r0 zone=us", "r1 zone=eu,gpu=true", "r2 zone=eu",
                     "); nothing changed"):
            self.assertIn(part, r.err)
        # pinned to a node without the label: refused, naming it
        r = leader.naos("deploy", "pinned", "--no-wait", "--on", "r0",
                        "--require", "zone=eu", "--", "sleep", "1000")
        self.assertEqual(r.code, 100, r)
        self.assertIn("pinned to node r0 (--on r0), which lacks the required "
                      "label zone=eu (its labels: zone=us); nothing changed",
                      r.err)
        # a bad --require never reaches the node
        r = leader.naos("deploy", "bad", "--require", "Zone=eu", "--",
                        "sleep", "1000")
        self.assertEqual(r.code, 100, r)
        self.assertIn("--require: label Zone=eu: the key must start", r.err)
        # nothing changed: no entry, no such deployment anywhere
        self.assertEqual(raft_state(leader)["commit_index"], commit)
        for n in self.founders:
            for name in ("nowhere", "pinned", "bad"):
                self.assertIsNone(n.dep(name), (n.name, name))

    def test_label_usage_errors(self):
        """--label's bounds at their edges: refused with the label named,
        exit 100, nothing created."""
        k64 = "k" * 64
        cases = [
            ("no =", ["--label", "zone"], "--label: label zone: expected "
             "KEY=VALUE"),
            ("upper case", ["--label", "Zone=eu"],
             "--label: label Zone=eu: the key must start with a lower-case "
             "letter or a digit"),
            ("64-byte key", ["--label", k64 + "=v"],
             "the key is longer than 63 bytes"),
            ("64-byte value", ["--label", "k=" + "v" * 64],
             "the value is longer than 63 bytes"),
            ("space in value", ["--label", "k=a b"],
             "label k=a b: the value may hold only printable ASCII"),
            ("key twice", ["--label", "zone=eu", "--label", "zone=us"],
             "--label: label zone=us: the key zone is given twice"),
            ("17 labels", [a for i in range(17)
                           for a in ("--label", "k%d=v" % i)],
             "--label: label k16=v: at most 16 labels"),
        ]
        for what, args, msg in cases:
            with self.subTest(what):
                p = self.run_node("start", *args)
                self.assertEqual(p.returncode, 100, p)
                self.assertIn(msg, p.stderr)
        for d in os.listdir(self.dir):
            if d.startswith("u"):
                self.assertEqual(os.listdir(os.path.join(self.dir, d)), [],
                                 "a refused start created files")

    def test_every_voter_compacts_what_all_hold(self):
        """Applied entries every voter holds are compacted on each node
        (naos_raft_first_index moves up, in the store too: a restart from
        a compacted log of several voters works); a voter that is down
        holds compaction back on the others, so it catches up from entries
        they kept, and compaction goes on once it has."""
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")

        def gauges(n):
            fams = n.metrics()
            return {k: promtext.value(fams, "naos_raft_" + k)
                    for k in ("first_index", "held_index", "commit_index",
                              "applied_index")}

        def deploy(names):
            for name in names:
                r = leader.naos("deploy", name, "--no-wait", "--", "sleep",
                                "1000")
                self.assertEqual(r.code, 0, r)
        deploy(["a%d" % k for k in range(6)])
        commit = raft_state(leader)["commit_index"]
        self.wait_applied(self.founders, commit, within(10), "a0..a5 applied")
        deploy(["b0"])  # a write of the log on every node, told held
        seen = {}

        def compacted():
            for n in self.founders:
                seen[n.name] = gauges(n)
            return all(g["first_index"] >= commit - 1 for g in seen.values())
        wait_until(compacted, within(10), interval=0.05,
                   msg="every node compacted below %d: %r" % (commit - 1,
                                                               seen))

        # a follower down: the others keep what it lacks, in their stores
        # too (the other follower restarts from its store, then becomes
        # the leader that must serve it)
        f, g = [n for n in self.founders if n is not leader]
        f_applied = raft_state(f)["applied_index"]
        f.kill9()
        deploy(["c%d" % k for k in range(8)])
        commit2 = raft_state(leader)["commit_index"]
        self.wait_applied([leader, g], commit2, within(10), "c0..c7 applied")
        for n in (leader, g):
            st = gauges(n)
            self.assertLessEqual(st["held_index"], f_applied + 1,
                                 (n.name, st))
            self.assertLessEqual(st["first_index"], f_applied + 1,
                                 (n.name, st))
        g.kill9()
        g.start_node()
        self.wait_applied([leader, g], commit2, within(20),
                          "the other follower restarted from its store")
        leader.kill9()
        f.start_node()
        new, _ = self.wait_leader([f, g], within(20), "g leads f")
        self.assertIs(new, g)
        self.wait_applied([f, g], commit2, within(20),
                          "the restarted follower caught up from g")
        leader.start_node()
        self.wait_applied(self.founders, commit2, within(20),
                          "the old leader caught up")
        leader = g
        deploy(["d0"])
        commit3 = raft_state(leader)["commit_index"]
        self.wait_applied(self.founders, commit3, within(10), "d0 applied")
        deploy(["d1"])

        def compacted_again():
            for n in self.founders:
                seen[n.name] = gauges(n)
            return all(g["first_index"] >= commit3 - 1
                       for g in seen.values())
        wait_until(compacted_again, within(10), interval=0.05,
                   msg="compaction went on past %d: %r" % (commit3 - 1, seen))

    def test_path_commands_from_any_node(self):
        """`naos stop|start DEP/PATH` from any node reaches the node that
        runs DEP: its door checks the path against the tree it runs, the
        leader commits it (relayed), and that node carries it out; a bad
        path is refused naming it; with that node down the command, and a
        checkpoint save or load of its agents, is refused naming it, and
        nothing changes."""
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        owner, asker = [n for n in self.founders if n is not leader]
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        leader.apply("name: lab\n"
                     "placement: {on: %s}\n"
                     "supervisor: {strategy: one-for-one, max_restarts: 5, "
                     "window: 60s}\n"
                     "children:\n"
                     "  - {id: side, command: [sleep, '1000'], env: [%s]}\n"
                     "  - {id: keep, command: [sleep, '1000']}\n"
                     % (owner.name, trace))
        side = owner.wait_running_pid("lab/side", within(10))
        keep = owner.wait_running_pid("lab/keep", within(10))

        r = asker.naos("stop", "lab/side")
        self.assertEqual(r.code, 0, r)
        self.assertIn("lab/side", r.out)
        owner.wait_worker("lab/side", lambda w: w["state"] == "stopped" and
                          not w.get("pid"), within(10), "stopped")
        self.assertTrue(pid_gone(side))
        self.assertEqual(owner.node_at("lab/keep")["pid"], keep)
        r = leader.naos("start", "lab/side")
        self.assertEqual(r.code, 0, r)
        side = owner.wait_running_pid("lab/side", within(10))
        self.assertEqual(processes_with_env(trace), [side])

        r = asker.naos("stop", "lab/nosuch")
        self.assertEqual(r.code, 100, r)
        self.assertIn("no agent or supervisor at lab/nosuch", r.err)

        commit = raft_state(leader)["commit_index"]
        owner.kill9()
        wait_until(lambda: pid_gone(side), within(10),
                   msg="lab/side gone with its node")
        r = asker.naos("stop", "lab/keep")
        self.assertNotEqual(r.code, 0, r)
        self.assertIn("deployment lab runs on %s, which is not reachable "
                      "now" % owner.name, r.err)
        # its agents' checkpoints are its node's too: refused naming it
        # (it was "no agent named lab/keep" from the asker's own tree)
        for args in (["checkpoint", "load", "lab/keep"],
                     ["checkpoint", "save", "lab/keep", "-f", "/dev/null"]):
            r = asker.naos(*args)
            self.assertNotEqual(r.code, 0, r)
            self.assertIn("lab/keep runs on %s, which is not reachable from "
                          "naos-node %s now" % (owner.name, asker.name),
                          r.err)
        self.assertEqual(raft_state(leader)["commit_index"], commit)

    def test_http_commands_from_a_follower(self):
        """The HTTP API's commands (POST .../NAME/restart|stop|start) on a
        follower go to the leader as `naos` sends them, and are answered
        with the leader's words once carried out there: no longer "busy,
        ask the leader". GET /api/v1/status?scope=cluster answers what
        `naos status` does, gathered from the nodes."""
        token = "t0k3n-for-the-naos-http-api-0123456789"
        self.founders = self.make_founders(env={"NAOS_HTTP_TOKEN": token})
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        owner, asker = [n for n in self.founders if n is not leader]
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        r = leader.naos("deploy", "x", "--no-wait", "--on", owner.name,
                        "--env", trace, "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        first = owner.wait_running_pid("x/x", within(10))
        wait_until(lambda: asker.naos("status", "x").code == 0, within(10),
                   msg="x applied at %s" % asker.name)
        # the cluster's status over HTTP, from a node that does not run x
        doc = asker.http_json("/api/v1/status?scope=cluster")
        self.assertEqual(doc["cluster"]["leader"], leader.name, doc)
        deps = {d["name"]: d for d in doc["deployments"]}
        self.assertEqual(deps["x"]["node"], owner.name, doc)
        self.assertEqual(find_node(deps["x"]["tree"], "x/x")["pid"], first,
                         doc)
        self.assertEqual(asker.http_json("/api/v1/status")["deployments"],
                         [])  # its own: none
        asker.http_json("/api/v1/status?scope=everything", status=400)

        # dashboards polling it: a gathering is reused for a second, so 8
        # quick polls ask the owner far fewer than 8 times
        def asked():
            return promtext.value(owner.metrics(),
                                  "naos_transport_messages_total",
                                  range="requests", result="received") or 0
        before = asked()
        for _ in range(8):
            asker.http_json("/api/v1/status?scope=cluster")
        self.assertLessEqual(asked() - before, 4)
        auth = {"Authorization": "Bearer " + token}

        def post(path):
            # as a client would: again after "nothing changed, try again"
            # (a leader change under load: the API carries no command id)
            for _ in range(5):
                code, h, body = asker.http("POST", path, headers=auth)
                if code not in (409, 503) or b"try again" not in body:
                    break
                time.sleep(0.5)
            return code, h, body
        code, _, body = post("/api/v1/deployments/x/restart")
        doc = json.loads(body)
        self.assertEqual(code, 200, doc)
        self.assertEqual(doc["deployment"], "x")
        self.assertIn("restarting x on %s" % owner.name, doc["message"])
        second = owner.wait_running_pid("x/x", within(10), other_than=first)
        self.assertEqual(processes_with_env(trace), [second])
        code, _, body = post("/api/v1/deployments/x/stop")
        self.assertEqual(code, 200, body)
        owner.wait_state("x", "stopped", within(10))
        code, _, body = asker.http("POST", "/api/v1/deployments/nosuch/start",
                                   headers=auth)
        self.assertEqual(code, 404, body)
        self.assertIn("no deployment named nosuch", json.loads(body)["error"])

    def test_deploy_over_a_tree_still_being_removed_is_brought_in(self):
        """A deploy of a name whose earlier deployment's tree is still
        being removed on its node (the worker within its shutdown grace):
        the leader does not see that tree, so the deploy is taken, and the
        node brings the new tree in once the old one is gone, as its
        record says then (running, or stopped by a stop meanwhile). It
        used to start or stop the old tree instead, be refused, and leave
        the new one out until something else changed."""
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        owner = [n for n in self.founders if n is not leader][0]
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)

        def stubborn(ready):
            # ignores SIGTERM: only the SIGKILL after its grace ends it
            return ["--shutdown", "3s", "--", "sh", "-c",
                    "trap '' TERM; : > \"$1\"; while :; do sleep 0.1; "
                    "done", "stubborn", ready]

        def deploy(*args):
            r = leader.naos("deploy", "x", "--no-wait", "--on", owner.name,
                            "--env", trace, *args)
            self.assertEqual(r.code, 0, r)
            self.assertIn("deployed x on %s" % owner.name, r.out)

        def removing(ready, pid):
            wait_until(lambda: os.path.exists(ready), within(10),
                       msg="the worker to ignore SIGTERM")
            leader.ok("rm", "x")
            return pid

        ready = [os.path.join(self.dir, "trapped%d" % i) for i in (1, 2)]
        deploy(*stubborn(ready[0]))
        first = removing(ready[0], owner.wait_running_pid("x/x", within(10)))
        deploy(*stubborn(ready[1]))
        self.assertTrue(pid_alive(first), "the old tree went too soon")
        second = owner.wait_running_pid("x/x", within(15), other_than=first)
        left = processes_with_env(trace)  # second and its `sleep 0.1`
        self.assertIn(second, left)
        self.assertNotIn(first, left)
        self.assertEqual(len(owner.events(kind="kill", path="x/x")), 1)
        # again, with a stop before the old tree is gone
        removing(ready[1], second)
        deploy("--", "sleep", "1000")
        leader.ok("stop", "x")
        self.assertTrue(pid_alive(second), "the old tree went too soon")
        wait_until(lambda: len(owner.events(kind="kill", path="x/x")) == 2,
                   within(15), msg="the old tree's worker killed")
        owner.wait_state("x", "stopped", within(10))
        wait_until(lambda: processes_with_env(trace) == [], within(5),
                   msg="no worker of x left")
        self.assertEqual(
            len(owner.events(kind="start", path="x/x")), 2)  # no third

    def test_followers_own_commands_reach_the_log(self):
        """What a follower proposes itself goes through the leader
        (relayed): an agent's checkpoint save through its own endpoint,
        and the mark that a deployment gave up, which it keeps when its
        node's clean stop hands it to another node."""
        for i in range(3):
            self.start(i)
        leader, st = self.wait_leader(self.founders, within(20),
                                      "one leader of 3 voters")
        flag = os.path.join(self.dir, "may-run")
        out = os.path.join(self.dir, "saved")
        # the agent saves a checkpoint, then fails until flag exists
        script = ('printf from-agent | "%s" checkpoint save -f - > %s 2>&1; '
                  '[ -e %s ] && exec sleep 1000; exit 1'
                  % (NAOS_BIN, out, flag))
        names = ("a", "b", "c")
        traces = {}
        for name in names:
            trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
            self.traces.append(trace)
            # --max-migrations 0: it stays failed where it failed (the
            # root supervisor's moves are it_root_migrate's)
            r = leader.naos("deploy", name, "--no-wait", "--max-restarts",
                            "1", "--window", "60s", "--max-migrations", "0",
                            "--env", trace, "--",
                            "sh", "-c", script.replace(out, out + name))
            self.assertEqual(r.code, 0, r)
            m = re.search(r"on (r\d) ", r.out)
            traces[name] = [n for n in self.founders
                            if n.name == m.group(1)][0]
        follower_dep = [k for k, o in traces.items() if o is not leader][0]
        owner = traces[follower_dep]
        owner.wait_state(follower_dep, "failed", within(15))
        # the save, made on a follower, was answered and is everywhere
        with open(out + follower_dep) as f:
            said = f.read()
        self.assertIn("saved checkpoint", said)
        self.wait_applied(self.founders, raft_state(leader)["commit_index"],
                          within(10), "every node applied the marks")
        for n in self.founders:
            r = n.naos("checkpoint", "load", follower_dep)
            self.assertEqual((r.code, r.out), (0, "from-agent"), n.name)
        # the failed mark was recorded: with the program able to run now,
        # the owner's clean stop hands the deployment over (node-lost) and
        # wherever it lands it stays failed, not started
        with open(flag, "w"):
            pass
        self.assertEqual(owner.stop_node(), 0)
        others = [n for n in self.founders if n is not owner]
        lead, _ = self.wait_leader(others, within(20), "a leader")

        def moved():
            for d in lead.ok("status", json=True).data.get("deployments",
                                                            []):
                if d["name"] == follower_dep and d.get("node") != owner.name:
                    return d
            return None
        d = wait_until(moved, within(15), interval=0.1,
                       msg="handed over by the stopped owner")
        self.assertEqual(d["state"], "failed", d)
        holder = [n for n in others if n.name == d["node"]][0]
        local = wait_until(lambda: holder.dep(follower_dep), within(10),
                           interval=0.1, msg="its new node holds it")
        self.assertEqual(local["state"], "failed", local)
        self.assertFalse(any(w.get("pid") for w in
                             local["tree"].get("children", [])), local)
        owner.start_node()  # and it comes back with nothing of it
        self.wait_leader(self.founders, within(20), "a leader again")

    def test_leader_cut_off_answers_outcome_unknown(self):
        """A deploy taken by a leader that loses its followers before the
        entry commits is answered "outcome unknown" when the leader steps
        down (check-quorum), not left to the client's timeout; the CLI
        retries it with the same id until --timeout, and with no leader to
        ask says the outcome is still unknown (exit 112). Once the
        followers are back the cluster agrees on whether it was carried
        out."""
        import signal
        for i in range(3):
            self.start(i)
        leader, st = self.wait_leader(self.founders, within(20),
                                      "one leader of 3 voters")
        followers = [n for n in self.founders if n is not leader]
        for f in followers:
            os.kill(f.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = leader.naos("--timeout", "3s", "deploy", "u", "--no-wait",
                            "--", "sleep", "1000")
            took = time.monotonic() - t0
        finally:
            for f in followers:
                os.kill(f.proc.pid, signal.SIGCONT)
        self.assertEqual(r.code, 112, r)
        self.assertIn("outcome unknown: naos-node %s stopped leading the "
                      "cluster before the command (entry" % leader.name,
                      r.err)
        self.assertIn("check with `naos status`", r.err)
        self.assertIn("retried it with the same id until --timeout (3000 "
                      "ms)", r.err)
        print("\noutcome unknown after %.2f s" % took)
        new, st = self.wait_leader(self.founders, within(20),
                                   "one leader once the followers are back",
                                   above_term=st[leader.name]["term"])
        commit = raft_state(new)["commit_index"]
        self.wait_applied(self.founders, commit, within(10),
                          "every node applied the same entries")
        # (`naos status u` is answered from u's record, wherever asked)
        has = {n.name: n.naos("status", "u").code == 0
               for n in self.founders}
        self.assertEqual(len(set(has.values())), 1, has)
        print("the deploy was %scarried out" % ("" if has[leader.name]
                                                else "not "))
        # and the cluster takes the command again
        name = "u2" if has[leader.name] else "u"
        r = new.naos("deploy", name, "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)

        # with every other node dead, the cluster's status is answered
        # from the records at once (nobody to ask), and the node lives on
        others = [n for n in self.founders if n is not new]
        for n in others:
            n.kill9()
        wait_until(lambda: all(m["state"] == "dead"
                               for k, m in new.members().items()
                               if k != new.name), within(10),
                   msg="the others dead to %s" % new.name)
        for _ in range(2):
            r = new.naos("status", "--json")
            self.assertEqual(r.code, 0, r)
        self.assertIsNone(new.proc.poll())

    def test_retry_through_a_follower_is_carried_out_once(self):
        """A deploy given on a follower, forwarded to the leader, carried
        out there but answered "outcome unknown" (each node's first
        answer, NAOS_TESTING_UNKNOWN_REPLY=1): the CLI retries through the
        follower with the same id, the leader answers it from the client
        table, and the deployment exists once."""
        self.founders = self.make_founders(
            env={"NAOS_TESTING_UNKNOWN_REPLY": "1"})
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        follower = [n for n in self.founders if n is not leader][0]
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        r = follower.naos("deploy", "once", "--no-wait", "--env", trace,
                          "--", "sleep", "1000")
        self.assertEqual(r.code, 0, r)
        m = re.search(r"deployed once on (\S+) \(epoch (\d+)\)", r.out)
        self.assertIsNotNone(m, r)
        # the retry was answered from the client table at the leader's
        # door (or, had it come first, as a duplicate in the log)
        fams = leader.metrics()
        self.assertEqual(promtext.value(fams, "naos_command_retries_total",
                                        found="door") +
                         promtext.value(fams, "naos_command_retries_total",
                                        found="log"), 1)
        st = follower.status(local=False)
        self.assertEqual([d["name"] for d in st["deployments"]], ["once"])
        owner = [n for n in self.founders if n.name == m.group(1)][0]
        owner.wait_running_pid("once/once", within(10))
        # a new command is a new id: carried out (not taken for a retry)
        r = follower.naos("rm", "once")
        self.assertEqual(r.code, 0, r)
        self.assertNotIn("carried out once", r.out)

    def test_no_leader_fails_fast(self):
        """A command given on a node that knows no leader (the others are
        gone) fails at once with `no leader: ...`, exit 111, nothing
        changed: it never hangs."""
        import signal
        for i in range(3):
            self.start(i)
        leader, _ = self.wait_leader(self.founders, within(20),
                                     "one leader of 3 voters")
        survivor = [n for n in self.founders if n is not leader][0]
        for n in self.founders:
            if n is not survivor:
                os.kill(n.proc.pid, signal.SIGSTOP)
        stopped = [n for n in self.founders if n is not survivor]
        try:
            wait_until(lambda: not survivor.ok("nodes", json=True)
                       .data.get("leader"), within(10),
                       msg="the survivor to know no leader")
            t0 = time.monotonic()
            r = survivor.naos("deploy", "nl", "--no-wait", "--", "sleep",
                              "1000")
            took = time.monotonic() - t0
            rj = survivor.naos("--json", "deploy", "nl", "--no-wait", "--",
                               "sleep", "1000")
        finally:
            for n in stopped:
                os.kill(n.proc.pid, signal.SIGCONT)
        self.assertEqual(r.code, 111, r)
        self.assertIn("no leader: ", r.err)
        self.assertIn("nothing changed", r.err)
        self.assertLess(took, within(1.0), r)
        print("\nno leader: answered in %.2f s" % took)
        self.assertEqual(rj.code, 111, rj)
        self.assertIn('"status":"unavailable"', rj.err.replace(" ", ""))

    def test_forward_to_a_frozen_leader_is_retried_on_the_new_one(self):
        """A deploy forwarded to a leader that froze (SIGSTOP) is given up
        as soon as the follower stops taking it for the leader, the CLI
        retries with the same id through the new leader, and the
        deployment exists once when the old leader wakes."""
        import signal
        for i in range(3):
            self.start(i)
        leader, st = self.wait_leader(self.founders, within(20),
                                      "one leader of 3 voters")
        follower = [n for n in self.founders if n is not leader][0]
        trace = "NAOS_IT_RAFT_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        os.kill(leader.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = follower.naos("deploy", "fz", "--no-wait", "--env", trace,
                              "--", "sleep", "1000")
            took = time.monotonic() - t0
        finally:
            os.kill(leader.proc.pid, signal.SIGCONT)
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"deployed fz on r\d \(epoch \d+\)")
        print("\nforwarded to a frozen leader: deployed after %.2f s" % took)
        # the forward's 8 s timeout would have left 2 s of the CLI's 10
        self.assertLess(took, within(6), r)
        fams = follower.metrics()
        self.assertEqual(promtext.value(fams, "naos_forwards_total",
                                        outcome="target-lost"), 1)
        new, _ = self.wait_leader(self.founders, within(20),
                                  "one leader once the old one woke",
                                  above_term=st[leader.name]["term"])
        commit = raft_state(new)["commit_index"]
        self.wait_applied(self.founders, commit, within(10),
                          "every node applied the same entries")
        for n in self.founders:
            names = [d["name"] for d in n.status(local=False)["deployments"]]
            self.assertEqual(names, ["fz"], n.name)

    # ---- founding: exactly N founders, started alike ------------------------

    def node_at(self, name, addrs, i, expect=3):
        """A node on addrs[i] naming the others as seeds; a founder with
        --bootstrap-expect expect, or a plain member (expect None)."""
        n = Node(name=name, extra_args=member_args(addrs, i, self.key,
                                                   expect))
        n.__enter__()
        self.started.append(n)
        return n

    def wait_log(self, node, text, timeout):
        wait_until(lambda: text in node.read_node_log(), timeout,
                   msg="%r in %s's log" % (text, node.name))

    def assert_unfounded(self, nodes):
        for n in nodes:
            fams = n.metrics()
            self.assertIsNone(promtext.value(fams, "naos_raft_voters"),
                              n.name)  # no log yet
            self.assertEqual(promtext.value(fams, "naos_raft_forming"), 1,
                             n.name)
            self.assertNotIn("founded the cluster's log", n.read_node_log(),
                             n.name)

    def test_extra_founder_founds_nothing_until_stopped(self):
        addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(4)]
        nodes = [self.node_at("f%d" % i, addrs, i) for i in range(4)]
        for n in nodes:
            self.wait_log(n, "forming: 4 nodes were started with "
                          "--bootstrap-expect 3 and see each other, but "
                          "exactly 3 must be: stop the extra ones",
                          within(15))
        r = nodes[0].naos("deploy", "x", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 1, r)
        self.assertIn("cannot be founded: 4 nodes were started with "
                      "--bootstrap-expect 3", r.err)
        self.assertIn("stop the extra ones (nothing changed)", r.err)
        self.assert_unfounded(nodes)
        # the extra one goes: the other three found, with each other only
        self.assertEqual(nodes[3].stop_node(), 0)
        leader, st = self.wait_leader(nodes[:3], within(20),
                                      "one leader of the three left")
        for n in nodes[:3]:
            self.assertIn("founded the cluster's log with 3 voters",
                          n.read_node_log(), n.name)
        # back with the same flags, it finds the log founded without it
        nodes[3].start_node()
        self.wait_log(nodes[3], "the cluster's log was already founded",
                      within(15))
        self.assertIn("without this node, which stays out of it",
                      nodes[3].read_node_log())
        self.assertIsNone(raft_state(nodes[3])["voters"])
        self.assertEqual(promtext.value(nodes[3].metrics(),
                                        "naos_raft_forming"), 0)
        leader2, st2 = self.wait_leader(nodes[:3], within(5),
                                        "the same leader")
        self.assertIs(leader2, leader)

    def test_plain_member_is_no_founder_and_expects_must_agree(self):
        addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(4)]
        f0 = self.node_at("g0", addrs, 0)
        f1 = self.node_at("g1", addrs, 1)
        plain = self.node_at("plain", addrs, 3, expect=None)
        wait_until(lambda: sum(m["state"] == "alive" for m in
                               f0.members().values()) == 3,
                   within(15), msg="g0 sees g1 and the plain member alive")
        # three members alive, two founders: once g0 has the plain
        # member's word (its health), it counts 2 founders, not 3, so it
        # founds nothing (the refusal counts them as it answers)
        wait_until(lambda: f0.members()["plain"].get("health") is not None,
                   within(15), msg="g0 has the plain member's health")
        r = f0.naos("deploy", "x", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 1, r)
        self.assertIn("the cluster is forming: 2 of 3 founders of naos-node "
                      "g0 see each other", r.err)
        self.assert_unfounded([f0, f1])
        # a third founder that expects 5: still nothing, and said why
        odd = self.node_at("g2", addrs, 2, expect=5)
        self.wait_log(f0, "forming: g2 was started with --bootstrap-expect "
                      "5 and this node with 3", within(15))
        self.assert_unfounded([f0, f1, odd])
        # started again with 3, it founds with the other two
        self.assertEqual(odd.stop_node(), 0)
        good = self.node_at("g2b", addrs, 2)
        leader, st = self.wait_leader([f0, f1, good], within(20),
                                      "one leader of g0, g1, g2b")
        self.assertEqual(raft_state(plain)["voters"], 1)  # its own log

    def test_founded_member_restarts_with_a_rotated_key(self):
        """The cluster id is derived from the key only to found: a member
        restarted with the key the cluster rotated to keeps its log (its
        recorded id is the cluster's)."""
        for i in range(3):
            self.start(i)
        self.wait_leader(self.founders, within(20), "one leader of 3 voters")
        n = self.founders[0]
        self.assertEqual(n.stop_node(), 0)
        newkey = keygen(os.path.join(self.dir, "rotated.key"))
        args = n.extra_args
        k = args.index("--key")
        n.extra_args = args[:k + 1] + [newkey] + args[k + 2:]
        n.start_node()
        self.assertEqual(raft_state(n)["voters"], 3)
        self.assertNotIn("belongs to cluster", n.read_node_log())

    # ---- usage errors -------------------------------------------------------

    def run_node(self, *args, data=None, env=None):
        """Runs naos-node with args (its own --run and, unless given,
        --data in a fresh directory, --http off) to its exit; returns the
        CompletedProcess (killed after a deadline, which fails the test)."""
        d = tempfile.mkdtemp(prefix="u", dir=self.dir)
        argv = [NODE_BIN, *args, "--run", os.path.join(d, "r"), "--data",
                data or os.path.join(d, "d"), "--http", "off"]
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=within(15), env=env)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("naos-node ran on (not refused): %s" %
                                 " ".join(argv)) from e

    def test_bootstrap_usage_errors(self):
        seeds = ",".join(self.addrs[1:])
        listen = self.addrs[0]
        cases = [
            ("--bootstrap-expect 4",
             ["start", "--listen", listen, "--key", self.key, "--seeds",
              seeds, "--bootstrap-expect", "4"],
             "--bootstrap-expect: expected 3 or 5"),
            ("without --listen",
             ["start", "--key", self.key, "--seeds", seeds,
              "--bootstrap-expect", "3"],
             "--bootstrap-expect goes with `start --listen"),
            ("without --seeds",
             ["start", "--listen", listen, "--key", self.key,
              "--bootstrap-expect", "3"],
             "--bootstrap-expect goes with `start --listen"),
            ("with join",
             ["join", self.addrs[1], "--listen", listen, "--key", self.key,
              "--bootstrap-expect", "3"],
             "--bootstrap-expect goes with `start --listen"),
            ("without --key",
             ["start", "--listen", listen, "--seeds", seeds,
              "--bootstrap-expect", "3"],
             "--listen needs --key"),
        ]
        for what, args, msg in cases:
            with self.subTest(what):
                p = self.run_node(*args)
                self.assertEqual(p.returncode, 100, p)
                self.assertIn(msg, p.stderr)
        # nothing was created for any of them
        for d in os.listdir(self.dir):
            if d.startswith("u"):
                self.assertEqual(os.listdir(os.path.join(self.dir, d)), [],
                                 "a refused start created files")

    def test_lone_nodes_data_refused_for_founding(self):
        # a node that ran alone and took a command, with or without
        # gossip; its data directory can found no cluster, and is left
        # usable alone
        for gossip in (False, True):
            with self.subTest(gossip=gossip):
                extra = ["--listen", self.addrs[0], "--key",
                         self.key] if gossip else []
                with Node(name="lone", extra_args=extra) as n:
                    n.deploy("w", ["sleep", "1000"])
                    n.wait_state("w", "running", within(10))
                    self.assertEqual(n.stop_node(), 0)
                    p = self.run_node(
                        "start", "--listen", self.addrs[0], "--key",
                        self.key, "--seeds", ",".join(self.addrs[1:]),
                        "--bootstrap-expect", "3", "--name", "lone",
                        data=n.data, env=n.env)
                    self.assertIn(p.returncode, (100, 111), p)
                    self.assertIn("empty --data", p.stdout + p.stderr)
                    self.assertNotIn("founded the cluster's log",
                                     p.stdout + p.stderr)
                    # alone again, as before
                    n.start_node()
                    n.wait_state("w", "running", within(10))
                    self.assertEqual(raft_state(n)["voters"], 1)

    def test_five_founders_accepted(self):
        # 5 is the other size: the node starts and waits for 4 more
        addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(5)]
        n = Node(name="five", extra_args=[
            "--listen", addrs[0], "--key", self.key, "--seeds",
            ",".join(addrs[1:]), "--bootstrap-expect", "5"])
        n.__enter__()
        self.started.append(n)
        r = n.naos("deploy", "x", "--no-wait", "--", "sleep", "1000")
        self.assertEqual(r.code, 1, r)
        self.assertTrue(re.search(r"the cluster is forming: 1 of 5 founders",
                                  r.err), r)
        self.assertIn("raft: forming a cluster of 5 voters",
                      n.read_node_log())


if __name__ == "__main__":
    unittest.main()
