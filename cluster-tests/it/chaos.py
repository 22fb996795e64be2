# SPDX-License-Identifier: Apache-2.0
"""chaos.py: the real-process chaos run of issue 12, for it_chaos (a short
subset) and for the full run (`python3 chaos.py`, see main below).

Five founders on loopback (--bootstrap-expect 5), D deployments placed by
the leader, each an agent (AGENT) that every 20 ms appends a heartbeat
line "pid node epoch monotonic_ns" to its deployment's file (O_APPEND,
one write per line: the nodes share one kernel, so CLOCK_MONOTONIC is
comparable across them), loads its checkpoint at start and saves an
increasing counter every 200 ms through `naos checkpoint save`, logging
each load and save (refusals included) to a second file. R rounds, each
one of:

- kill9: kill -9 of a random naos-node (the leader included), started
  again at once or after a short delay;
- stop: SIGSTOP of a follower's naos-node alone, held past its lease;
- stop-leader: the same of the leader's;
- partition: one node (the leader or a follower) cut off from the others
  through the test-only transport fault layer
  (NAOS_TESTING_PARTITION_FILE), held past the lease, then healed.

After each round no node but the victim may have fenced itself (a lease
outlives the election after a silent leader), and the run waits, bounded,
until every deployment runs exactly once: one live agent process writing
fresh heartbeats, on the node the leader's `naos status` names, the
victim's deployments under a new pid (elsewhere, or on a killed node that
came back at once), and the victim holding its lease again.
Over the whole run, from the agents' records: no two runs of one
deployment alive at once (each run's first heartbeat after every earlier
run's last), and no checkpoint lost or overwritten by a stale epoch
(each run loads at least the highest counter an earlier run saved).

Every wait is bounded; a stopped node is always resumed and a cut always
healed in a finally; every process is reaped and the temp dirs removed
(NAOS_IT_KEEP=1 keeps them, node.log in each node's dir)."""
import collections
import json as jsonlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from harness import (NAOS_BIN, Node, exit_all, free_tcp_ports, gauge, keygen,
                     member_args, pid_alive, processes_with_env, wait_until,
                     within)

KINDS = ("kill9", "stop", "stop-leader", "partition")

# The agent: heartbeats on the main thread, checkpoints on another, so a
# save that waits for a leader never delays a heartbeat.
AGENT = r'''
import os, subprocess, sys, threading, time
hb_path, ck_path, naos, save_ms = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4])
pid, node = os.getpid(), os.environ.get("NAOS_NODE", "?")
epoch = os.environ.get("NAOS_EPOCH", "0")
flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
hb = os.open(hb_path, flags, 0o644)
ck = os.open(ck_path, flags, 0o644)

def record(what, counter, outcome="-", msg=""):
    msg = " ".join(msg.split())[:200] or "-"
    os.write(ck, ("%s %d %s %s %d %s %d %s\n" % (
        what, pid, node, epoch, counter, outcome, time.monotonic_ns(),
        msg)).encode())

def naos_cli(*args, data=None):
    try:
        return subprocess.run([naos, *args], input=data, capture_output=True,
                              text=True, timeout=15)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, 111, "", "cli timed out")

def load():
    """The last counter saved (0: none), asked until the node answers."""
    while True:
        p = naos_cli("checkpoint", "load")
        if p.returncode == 0:
            return int(p.stdout.strip() or 0)
        if p.returncode == 1 and "no checkpoint saved" in p.stderr:
            return 0
        record("load-retry", -1, "err", p.stderr)
        time.sleep(0.2)

def checkpoints():
    counter = load()
    record("load", counter, msg=os.environ.get("NAOS_RESTART_REASON", ""))
    while True:
        counter += 1
        p = naos_cli("checkpoint", "save", data=str(counter))
        if p.returncode == 0:
            record("save", counter, "ok")
        elif "stale epoch" in p.stderr:
            record("save", counter, "stale", p.stderr)
        else:
            record("save", counter, "err", p.stderr)
        time.sleep(save_ms / 1000.0)

threading.Thread(target=checkpoints, daemon=True).start()
while True:
    os.write(hb, ("%d %s %s %d\n" % (pid, node, epoch,
                                     time.monotonic_ns())).encode())
    time.sleep(0.02)
'''

# A heartbeat this recent (ns) counts as fresh: 20 ms apart, with room
# for an agent descheduled on a loaded machine.
FRESH_NS = 1_000_000_000


class Stuck(AssertionError):
    """A round's wait ran out: the cluster did not recover."""


class Run:
    """One run of one deployment's agent (one pid), from its heartbeats."""
    __slots__ = ("pid", "node", "epoch", "first", "last")

    def __init__(self, pid, node, epoch, t):
        self.pid, self.node, self.epoch = pid, node, epoch
        self.first = self.last = t


class Track:
    """One deployment's heartbeat file, read incrementally."""

    def __init__(self, name, hb, ck):
        self.name, self.hb, self.ck = name, hb, ck
        self.offset = 0
        self.runs = {}  # pid -> Run

    def read(self):
        try:
            with open(self.hb, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for line in data[:end].split(b"\n"):
            parts = line.split()
            if len(parts) != 4:
                continue
            pid, t = int(parts[0]), int(parts[3])
            r = self.runs.get(pid)
            if r is None:
                r = self.runs[pid] = Run(pid, parts[1].decode(),
                                         int(parts[2]), t)
            r.first, r.last = min(r.first, t), max(r.last, t)

    def live(self):
        """The runs whose process is alive (not a zombie) now."""
        return [r for r in self.runs.values()
                if pid_alive(r.pid) and self.is_agent(r.pid)]

    def is_agent(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return self.hb.encode() in f.read().split(b"\0")
        except OSError:
            return False


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class Chaos:
    """The chaos run. Use as a context manager (the cluster starts in
    __enter__ and is torn down in __exit__), then call run():

        with Chaos(deployments=8, rounds=6) as c:
            report = c.run()
        assert not report["problems"]

    kinds: the round kinds to draw from; with cover=True the first
    len(kinds) rounds take each once (in a random order). hold: seconds a
    stop or a cut is held (the lease is 3 s), or (lo, hi) to draw each
    round's. seed: the random seed (printed, so a run can be replayed).
    node_args: more naos-node flags (--log-level debug for evidence).
    out: where progress goes."""

    def __init__(self, nodes=5, deployments=20, rounds=30, kinds=KINDS,
                 cover=False, hold=5.0, save_ms=200, seed=None,
                 node_args=(), out=sys.stderr):
        self.n, self.d, self.rounds = nodes, deployments, rounds
        self.kinds, self.cover = list(kinds), cover
        self.hold = hold if isinstance(hold, tuple) else (hold, hold)
        self.save_ms = save_ms
        self.node_args = list(node_args)
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.order = self.rng.sample(self.kinds, len(self.kinds)) \
            if cover else []
        self.out = out
        self.nodes, self.started = [], []
        self.stopped, self.cut_off = None, None
        self.results = []
        self.runs = {}  # name -> the run seen at the last convergence
        self.problems = []

    def say(self, fmt, *args):
        self.out.write((fmt % args if args else fmt) + "\n")
        self.out.flush()

    # ---- the cluster -----------------------------------------------------

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="nchaos", dir="/tmp")
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self):
        self.say("chaos: seed %d, %d nodes, %d deployments, %d rounds, "
                 "dir %s", self.seed, self.n, self.d, self.rounds, self.dir)
        self.mark = "NAOS_CHAOS=" + uuid.uuid4().hex
        key = keygen(os.path.join(self.dir, "cluster.key"))
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in
                      free_tcp_ports(self.n)]
        self.cuts = [os.path.join(self.dir, "cut%d" % i)
                     for i in range(self.n)]
        self.nodes = [Node(name="k%d" % i, extra_args=member_args(
            self.addrs, i, key, expect=self.n) + self.node_args,
            env={"NAOS_TESTING_PARTITION_FILE": self.cuts[i]})
            for i in range(self.n)]
        for n in self.nodes:
            n.__enter__()
            self.started.append(n)
        self.agent = os.path.join(self.dir, "agent.py")
        with open(self.agent, "w") as f:
            f.write(AGENT)
        self.names = ["c%02d" % i for i in range(self.d)]
        self.tracks = {name: Track(name, os.path.join(self.dir, "hb-" + name),
                                   os.path.join(self.dir, "ck-" + name))
                       for name in self.names}
        lead = self.leader(self.nodes)
        for name in self.names:
            t = self.tracks[name]
            self.cli_ready(lead, "deploy", name, "--no-wait", "--env",
                           self.mark, "--", sys.executable, self.agent, t.hb,
                           t.ck, os.path.abspath(NAOS_BIN),
                           str(self.save_ms))
        t0 = time.monotonic()
        self.wait_converged(within(60), "every deployment runs")
        self.say("chaos: %d deployments running in %.1f s: %s", self.d,
                 time.monotonic() - t0, self.spread())

    def __exit__(self, et, ev, tb):
        self.resume()
        self.heal()
        problems = exit_all(self.started)
        left = processes_with_env(self.mark) if hasattr(self, "mark") else []
        if left:
            problems.append("agents outlived the cluster: %r" % left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)  # ours: they carry the mark
                except OSError:
                    pass
        if os.environ.get("NAOS_IT_KEEP"):
            self.say("chaos: kept %s", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            msg = "chaos teardown: " + "; ".join(problems)
            if et is None:
                raise AssertionError(msg)
            self.say(msg)
        return False

    def up(self):
        """The nodes that run, are not stopped and not cut off."""
        return [n for n in self.nodes if n.proc is not None
                and n is not self.stopped and n is not self.cut_off]

    def leader(self, nodes, timeout=None):
        """The one node of nodes that leads."""
        def one():
            lead = [n for n in nodes if gauge(n, "naos_raft_leader") == 1]
            return lead[0] if len(lead) == 1 else None
        return wait_until(one, timeout or within(20), interval=0.1,
                          msg="one leader among %s" %
                          [n.name for n in nodes])

    def cli_ready(self, via, *args):
        """`naos ARGS` through via, asked again while it says to try
        again; fails on any other error."""
        deadline = time.monotonic() + within(20)
        while True:
            r = via.naos(*args)
            if r.code == 0:
                return r
            if "try again" not in r.err or time.monotonic() > deadline:
                raise AssertionError("naos %s: %r" % (" ".join(args), r))
            time.sleep(0.1)

    def status(self, via):
        """{name: deployment} from via's `naos status --json`, or None (it
        waits up to 2 s for a node that does not answer)."""
        try:
            r = via.naos("status", json=True, timeout=5)
        except subprocess.TimeoutExpired:
            return None
        if r.code != 0 or not r.data:
            return None
        return {d["name"]: d for d in r.data.get("deployments", [])}

    def spread(self):
        return dict(collections.Counter(
            r.node for t in self.tracks.values() for r in t.live()))

    # ---- exactly once ----------------------------------------------------

    def converged(self, via):
        """[] when every deployment runs exactly once, else what is not
        yet so: the agents' records first, then (once they agree) the
        status asked through via."""
        now = time.monotonic_ns()
        wrong, runs = [], {}
        for name, t in self.tracks.items():
            t.read()
            live = t.live()
            if len(live) != 1:
                wrong.append("%s: %d live runs %s" % (
                    name, len(live), [(r.pid, r.node) for r in live]))
            elif live[0].last < now - FRESH_NS:
                wrong.append("%s: run %d not beating" % (name, live[0].pid))
            else:
                runs[name] = live[0]
        if wrong:
            return wrong
        st = self.status(via)
        if st is None:
            return ["no status from %s" % via.name]
        for name, r in runs.items():
            d = st.get(name) or {}
            if d.get("state") != "running" or d.get("node") != r.node:
                wrong.append("%s: status says %s on %s, its agent beats on "
                             "%s" % (name, d.get("state"), d.get("node"),
                                     r.node))
        if wrong:
            return wrong
        self.runs = runs
        return []

    def wait_converged(self, timeout, what):
        """Waits until converged (through the leader of the nodes up);
        raises Stuck with the last reason."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                via = self.leader(self.up(), timeout=1)
                last = self.converged(via)
                if not last:
                    return
            except AssertionError as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise Stuck("%s: not within %.0f s: %s" % (
                    what, timeout, last if isinstance(last, str)
                    else "; ".join(last)))
            time.sleep(0.1)

    # ---- faults ----------------------------------------------------------

    def cut(self, victim):
        """Cuts node victim (an index) off from every other node; None
        heals every cut."""
        for i in range(self.n):
            if victim is None:
                lines = []
            elif i == victim:
                lines = [a for j, a in enumerate(self.addrs) if j != i]
            else:
                lines = [self.addrs[victim]]
            tmp = self.cuts[i] + ".tmp"
            with open(tmp, "w") as f:
                f.write("".join(line + "\n" for line in lines))
            os.rename(tmp, self.cuts[i])
        self.cut_off = self.nodes[victim] if victim is not None else None

    def heal(self):
        if self.cut_off is not None:
            self.cut(None)

    def resume(self):
        n, self.stopped = self.stopped, None
        if n is not None and n.proc is not None:
            os.kill(n.proc.pid, signal.SIGCONT)

    def holds_lease(self, node):
        r = node.naos("status", json=True, timeout=5)
        return r.code == 0 and r.data["cluster"]["fenced"] is False

    def events_seq(self, node):
        evs = node.events()
        return max((e["seq"] for e in evs), default=0)

    def fenced_since(self, node, seq):
        return [e for e in node.events(kind="fenced") if e["seq"] > seq]

    # ---- rounds ----------------------------------------------------------

    def pick(self, i):
        if self.cover and i < len(self.order):
            return self.order[i]
        return self.rng.choice(self.kinds)

    def run(self):
        """The rounds, then the analysis; returns the report (a dict whose
        "problems" list is empty when the run passed)."""
        for i in range(self.rounds):
            kind = self.pick(i)
            try:
                self.round(i + 1, kind)
            except Stuck as e:
                self.problems.append("round %d (%s): %s" % (i + 1, kind, e))
                self.say("chaos: round %d STUCK: %s", i + 1, e)
                self.evidence()
                break
        return self.report()

    def round(self, num, kind):
        lead = self.leader(self.up())
        for t in self.tracks.values():
            t.read()
        # a victim that runs something, so each round moves work
        busy = {r.node for t in self.tracks.values() for r in t.live()}
        busy = [n for n in self.nodes if n.name in busy] or self.nodes
        if kind == "stop-leader" or (kind != "stop" and lead in busy and
                                     self.rng.random() < 0.5):
            victim = lead
        else:
            victim = self.rng.choice([n for n in busy if n is not lead] or
                                     [n for n in self.nodes if n is not lead])
        vi = self.nodes.index(victim)
        old, before = {}, {}
        for name, t in self.tracks.items():
            live = t.live()
            if len(live) == 1:
                before[name] = live[0].pid
                if live[0].node == victim.name:
                    old[name] = live[0].pid
        others = [n for n in self.nodes if n is not victim]
        seqs = {n.name: self.events_seq(n) for n in others}
        delay = 0.0
        if kind == "kill9":
            delay = self.rng.choice([0.0, 0.0, 1.0, 3.0])
        hold = delay if kind == "kill9" else self.rng.uniform(*self.hold)
        what = "%s %s%s (%d deployments there)" % (
            kind, victim.name, " (leader)" if victim is lead else "",
            len(old))
        what += (", restarted after %.0f s" % delay if kind == "kill9" else
                 ", held %.2f s" % hold)
        # the nodes' events say when, in wall-clock time
        self.say("chaos: round %2d: %s, from %s", num, what, time.strftime(
            "%H:%M:%S", time.gmtime()) + ".%03dZ" % (time.time() % 1 * 1000))
        t0_ns = time.monotonic_ns()  # the agents' clock
        t0 = t0_ns / 1e9
        if kind == "kill9":
            victim.kill9()
        elif kind in ("stop", "stop-leader"):
            self.stopped = victim
            os.kill(victim.proc.pid, signal.SIGSTOP)
        else:
            self.cut(vi)
        try:
            # the fault's length, not a wait for a condition: the agents'
            # records tell what happened meanwhile
            time.sleep(hold)
        finally:
            self.end_fault(kind, victim)
        ended = time.monotonic() - t0
        # back to normal: the victim holds its lease again, and every
        # deployment runs exactly once (it started none of what moved)
        try:
            wait_until(lambda: self.holds_lease(victim),
                       within(30), interval=0.1,
                       msg="%s to hold its lease again" % victim.name)
        except AssertionError as e:
            raise Stuck("%s: %s" % (what, e))
        self.wait_converged(within(30), what + ": settle")
        settled = time.monotonic() - t0
        # from the agents' records: when the victim's runs last beat, when
        # the last of its deployments beat again, and where (a fault
        # shorter than the lease may kill nothing)
        runs = [(self.tracks[name].runs[pid], self.runs[name])
                for name, pid in old.items()]
        gone = [a.last for a, b in runs if a is not b]
        new = [b for a, b in runs if a is not b]
        recovered = (max(r.first for r in new) - t0_ns) / 1e9 if new \
            else None
        away = sum(r.node != victim.name for r in new)
        # work the fault did not touch should keep its run
        also = sorted(name for name, pid in before.items() if name not in old
                      and self.runs[name].pid != pid)
        # a lease outlives the worst election after a silent leader: no
        # node but the victim fences itself (a leader's note that the
        # victim's guardian certified its death is no fence)
        fenced = []
        for n in others:
            fenced += [(n.name, e["at"], e["detail"])
                       for e in self.fenced_since(n, seqs[n.name])
                       if not e["detail"].startswith(victim.name + " died")]
        if fenced:
            self.problems.append("round %d (%s): other nodes fenced: %r" %
                                 (num, what, fenced))
        self.results.append({"round": num, "kind": kind, "what": what,
                             "moved": len(new), "away": away,
                             "recovered": recovered, "ended": ended,
                             "settled": settled, "fenced": fenced,
                             "also": also})
        self.say("chaos: round %2d: %s: %s, fault ended at %.2f s, all "
                 "settled at %.2f s%s", num, what,
                 "%d runs ended by %.2f s, ran again in %.2f s (%d "
                 "elsewhere)" % (len(new), (max(gone) - t0_ns) / 1e9,
                                 recovered, away)
                 if new else "no run ended", ended, settled,
                 ", FENCED elsewhere: %r" % fenced if fenced else "")
        if also:
            self.say("chaos: round %2d: also restarted, though not on %s: %s",
                     num, victim.name, " ".join(
                         "%s (%s)" % (n, self.restart_of(n)) for n in also))

    def restart_of(self, name):
        """Where deployment name's current run is and why it started, from
        its load record (NAOS_RESTART_REASON)."""
        r = self.runs[name]
        why = "?"
        with open(self.tracks[name].ck) as f:
            for line in f:
                p = line.split(None, 7)
                if len(p) == 8 and p[0] == "load" and int(p[1]) == r.pid:
                    why = p[7].strip()
        return "run %d on %s epoch %d: %s" % (r.pid, r.node, r.epoch, why)

    def end_fault(self, kind, victim):
        if kind == "kill9":
            victim.start_node()
        elif kind in ("stop", "stop-leader"):
            self.resume()
        else:
            self.heal()

    def evidence(self):
        """What a stuck round leaves to read: every node's view."""
        for n in self.up():
            st = n.naos("status", timeout=5)
            self.say("chaos: --- %s `naos status` (exit %d):\n%s%s", n.name,
                     st.code, st.out, st.err)
            try:
                for e in n.events()[-15:]:
                    self.say("chaos:   %s event %d %s %s %s %s", n.name,
                             e["seq"], e["at"], e["kind"],
                             e.get("deployment") or e.get("path") or "",
                             e.get("detail") or "")
            except AssertionError as e:
                self.say("chaos:   %s events: %s", n.name, e)
        self.say("chaos: node logs: %s", ", ".join(
            n.node_log_path for n in self.nodes) +
            ("" if os.environ.get("NAOS_IT_KEEP") else
             " (removed at the end: NAOS_IT_KEEP=1 keeps them)"))

    # ---- the agents' records ---------------------------------------------

    def overlaps(self):
        """(min gap in s, [overlap descriptions]) over every deployment:
        each run's first heartbeat must follow every earlier run's last."""
        min_gap, bad = None, []
        for name, t in self.tracks.items():
            t.read()
            prev = None
            for r in sorted(t.runs.values(), key=lambda r: r.first):
                if prev is not None:
                    gap = (r.first - prev.last) / 1e9
                    min_gap = gap if min_gap is None else min(min_gap, gap)
                    if gap <= 0:
                        bad.append("%s: run %d on %s (from %d) began before "
                                   "run %d on %s ended (%d), %.3f s of "
                                   "overlap:\n%s" % (
                                       name, r.pid, r.node, r.first,
                                       prev.pid, prev.node, prev.last, -gap,
                                       self.lines_between(t, prev, r)))
                if prev is None or r.last > prev.last:
                    prev = r
        return min_gap, bad

    def lines_between(self, t, a, b):
        """The heartbeat lines of runs a and b while both were alive."""
        out = []
        with open(t.hb) as f:
            for line in f:
                parts = line.split()
                if (len(parts) == 4 and int(parts[0]) in (a.pid, b.pid) and
                        b.first - 100_000_000 <= int(parts[3]) <=
                        a.last + 100_000_000):
                    out.append("  " + line.rstrip())
        return "\n".join(out[:40])

    def checkpoints(self):
        """Checks every deployment's checkpoint records, and its last
        checkpoint (on the node it ran on when last seen running once);
        returns counts, the failed saves' messages counted, and the
        problems found."""
        counts, errors = collections.Counter(), collections.Counter()
        bad = []
        for name, t in self.tracks.items():
            loads, saves = {}, collections.defaultdict(list)
            try:
                with open(t.ck) as f:
                    for line in f:
                        p = line.split(None, 7)
                        if len(p) < 8:
                            continue
                        what, pid, counter, outcome, ns = (
                            p[0], int(p[1]), int(p[4]), p[5], int(p[6]))
                        if what == "load":
                            loads[pid] = (counter, ns)
                        elif what == "save":
                            saves[pid].append((counter, outcome, ns))
                            counts["save " + outcome] += 1
                            if outcome == "err":
                                errors[p[7].strip()[:90]] += 1
            except FileNotFoundError:
                pass
            best, best_by = 0, None  # highest counter saved ok so far
            for r in sorted(t.runs.values(), key=lambda r: r.first):
                if r.pid in loads:
                    counts["loads"] += 1
                    got, at = loads[r.pid]
                    if got < best:
                        bad.append("%s: run %d on %s (epoch %d) loaded %d, "
                                   "but run %d had saved %d" % (
                                       name, r.pid, r.node, r.epoch, got,
                                       best_by, best))
                for counter, outcome, ns in saves.get(r.pid, []):
                    if outcome == "ok" and counter > best:
                        best, best_by = counter, r.pid
            # asked where it runs: a node it has left may no longer know
            # the name (the operator's load looks in the local tree)
            on = [n for n in self.up() if name in self.runs and
                  n.name == self.runs[name].node]
            if not on:
                continue
            r = on[0].naos("checkpoint", "load", name)
            if r.code != 0:
                bad.append("%s: no checkpoint at the end (run %d had saved "
                           "%d): %s" % (name, best_by, best, r.err.strip()))
            elif int(r.out.strip() or 0) < best:
                bad.append("%s: the checkpoint is %s at the end, but run %d "
                           "had saved %d" % (name, r.out.strip(), best_by,
                                             best))
        return counts, errors, bad

    def report(self):
        min_gap, overlaps = self.overlaps()
        counts, errors, ck_bad = self.checkpoints()
        self.problems += overlaps + ck_bad
        runs = sum(len(t.runs) for t in self.tracks.values())
        by_kind = {}
        for k in self.kinds:
            rs = [r for r in self.results if r["kind"] == k]
            if not rs:
                continue
            rec = [r["recovered"] for r in rs
                   if r["recovered"] is not None] or [0.0]
            by_kind[k] = {"rounds": len(rs),
                          "moved": sum(r["moved"] for r in rs),
                          "away": sum(r["away"] for r in rs),
                          "recovered_p50": percentile(rec, 0.5),
                          "recovered_max": max(rec),
                          "settled_max": max(r["settled"] for r in rs)}
        rep = {"seed": self.seed, "rounds": len(self.results),
               "by_kind": by_kind, "runs": runs,
               "min_gap_s": min_gap, "overlaps": len(overlaps),
               "untouched_restarted": sum(len(r["also"])
                                          for r in self.results),
               "saves_ok": counts["save ok"],
               "stale_epoch_refusals": counts["save stale"],
               "save_errors": counts["save err"], "loads": counts["loads"],
               "checkpoint_problems": len(ck_bad),
               "problems": self.problems}
        self.say("chaos: summary (seed %d): %d rounds, %d runs of %d "
                 "deployments", self.seed, len(self.results), runs, self.d)
        for k, v in by_kind.items():
            self.say("chaos:   %-11s %2d rounds, %3d runs ended and ran "
                     "again (%d elsewhere): p50 %.2f s, max %.2f s; "
                     "settled max %.2f s",
                     k, v["rounds"], v["moved"], v["away"], v["recovered_p50"],
                     v["recovered_max"], v["settled_max"])
        self.say("chaos:   %d runs restarted on nodes no fault touched",
                 rep["untouched_restarted"])
        self.say("chaos:   min gap between runs %s; overlaps %d; "
                 "checkpoints: %d saved, %d stale-epoch refusals, %d other "
                 "errors, %d loads, %d lost or overwritten",
                 "%.3f s" % min_gap if min_gap is not None else "-",
                 len(overlaps), counts["save ok"], counts["save stale"],
                 counts["save err"], counts["loads"], len(ck_bad))
        for msg, k in errors.most_common(5):
            self.say("chaos:   %d saves failed: %s", k, msg)
        for p in self.problems:
            self.say("chaos: PROBLEM: %s", p)
        return rep


def main():
    """The full run: NAOS_CHAOS_NODES (5), _DEPLOYMENTS (20), _ROUNDS (30),
    _HOLD (5 s; LO-HI: drawn per round), _SAVE_MS (200), _SEED, _KINDS
    (comma-separated), _NODE_ARGS (more naos-node flags);
    exit 0 when the run passed, 1 otherwise."""
    env = os.environ.get
    kinds = tuple(env("NAOS_CHAOS_KINDS", ",".join(KINDS)).split(","))
    hold = tuple(float(x) for x in env("NAOS_CHAOS_HOLD", "5").split("-"))
    hold = hold if len(hold) == 2 else hold[0]
    with Chaos(nodes=int(env("NAOS_CHAOS_NODES", "5")),
               deployments=int(env("NAOS_CHAOS_DEPLOYMENTS", "20")),
               rounds=int(env("NAOS_CHAOS_ROUNDS", "30")), kinds=kinds,
               cover=True, hold=hold,
               save_ms=int(env("NAOS_CHAOS_SAVE_MS", "200")),
               seed=int(env("NAOS_CHAOS_SEED")) if env("NAOS_CHAOS_SEED")
               else None, node_args=env("NAOS_CHAOS_NODE_ARGS", "").split(),
               out=sys.stdout) as c:
        rep = c.run()
    print(jsonlib.dumps(rep, indent=1))
    return 1 if rep["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
