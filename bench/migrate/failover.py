# SPDX-License-Identifier: Apache-2.0
"""failover.py: how soon a lost node's deployments run on another node
(issue 12), on three founders on loopback, by kind of loss:

  follower  kill -9 of a follower's naos-node: its guardian kills its
            agents and certifies it (the certificate path);
  leader    kill -9 of the leader's naos-node: its guardian certifies
            it to the others, and the leader of the next term takes the
            certificate (the certificate path, after an election);
  host      a follower's naos-node and its guardian both gone (SIGSTOP of
            the node, kill -9 of its guardian, then of the node: what
            `docker kill` of a host does): nothing certifies, the lease
            runs out (the lease path).

Each figure: from the kill to every deployment that ran there `running`
on another node in `naos status` (polled every 20 ms). After each kill
the node is started again on its directories, and a deployment is added
until the next victim runs one. K kills per kind (env K, default 20, at
most 50), within T seconds in all (env T, default 900). Prints p50 and
max per kind. Nodes are reaped by PID, temp dirs removed (kept with
NAOS_IT_KEEP=1; LOG=debug for the nodes' debug logs).

    NAOS_BUILD_DIR=build/dev python3 bench/migrate/failover.py
"""
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(os.environ.get("NAOS_BUILD_DIR", "build/dev"))
os.environ.setdefault("NAOS_NODE_BIN", os.path.join(build, "node/naos-node"))
os.environ.setdefault("NAOS_BIN", os.path.join(build, "cli/naos"))
sys.path.insert(0, os.path.join(here, "..", "..", "cluster-tests", "it"))

from harness import (Node, exit_all, free_tcp_ports, gauge,  # noqa: E402
                     keygen, member_args, wait_until)


def statuses(via):
    r = via.naos("status", json=True)
    if r.code != 0:
        return None
    return {d["name"]: d for d in r.data.get("deployments", [])}


def leader(nodes):
    def one():
        lead = [n for n in nodes
                if n.proc is not None and gauge(n, "naos_raft_leader") == 1]
        return lead[0] if len(lead) == 1 else None
    return wait_until(one, 30, interval=0.02, msg="one leader")


def guardian_pid(node):
    """The node's guardian: its child running `naos-node guardian`."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == node.proc.pid and argv[1:2] == [b"guardian"]:
            return int(d)
    return None


class Bench:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nbmig", dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(3)]
        log = ["--log-level", os.environ.get("LOG", "info")]
        self.nodes = [Node(name="b%d" % i,
                           extra_args=member_args(addrs, i, self.key) + log)
                      for i in range(3)]
        self.seq = 0

    def start(self):
        for n in self.nodes:
            n.__enter__()
        self.lead = leader(self.nodes)
        for _ in range(6):
            self.deploy()

    def deploy(self):
        self.seq += 1
        name = "d%d" % self.seq
        deadline = time.monotonic() + 30
        while True:
            via = leader(self.nodes)
            r = via.naos("deploy", name, "--no-wait", "--", "sleep", "10000")
            if r.code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        wait_until(lambda: ((statuses(via) or {}).get(name) or {}).get(
            "state") == "running", 30, interval=0.05, msg=name + " runs")

    def work_on(self, node, via):
        st = statuses(via) or {}
        return [k for k, d in st.items() if d.get("node") == node.name]

    def one(self, kind):
        via = leader(self.nodes)
        if kind == "leader":
            victim = via
        else:
            victim = next(n for n in self.nodes if n is not via)
        for _ in range(8):
            if self.work_on(victim, via):
                break
            self.deploy()  # fewest deployments: it goes to the victim
        lost = self.work_on(victim, via)
        if not lost:
            return None
        survivors = [n for n in self.nodes if n is not victim]
        if kind == "host":
            os.kill(victim.proc.pid, signal.SIGSTOP)
            g = guardian_pid(victim)
            t0 = time.monotonic()
            if g is not None:
                os.kill(g, signal.SIGKILL)
            victim.kill9()
        else:
            t0 = time.monotonic()
            victim.kill9()
        took = None
        deadline = t0 + 60
        while time.monotonic() < deadline:
            try:
                lead = leader(survivors)
            except AssertionError:
                continue
            st = statuses(lead)
            if st and all(st.get(k, {}).get("state") == "running" and
                          st[k].get("node") not in (None, victim.name)
                          for k in lost):
                took = time.monotonic() - t0
                break
            time.sleep(0.02)
        victim.start_node()
        leader(self.nodes)
        # settled: a node that dies within its first moments (before
        # gossip gave it its peers' addresses) certifies nothing
        time.sleep(2.0)
        return took

    def close(self):
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                os.kill(n.proc.pid, signal.SIGCONT)
        problems = exit_all(self.nodes)
        shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            print("teardown: " + "; ".join(problems))


def main():
    k = min(int(os.environ.get("K", "20")), 50)
    end = time.monotonic() + float(os.environ.get("T", "900"))
    b = Bench()
    figures = {"follower": [], "leader": [], "host": []}
    try:
        b.start()
        for i in range(k):
            for kind in figures:
                if time.monotonic() > end:
                    break
                t = b.one(kind)
                figures[kind].append(t)
                print("round %d %-8s %s" % (i + 1, kind,
                                            "%.2f s" % t if t is not None
                                            else "not moved within 60 s"),
                      flush=True)
    finally:
        b.close()
    print("\nkill -> every deployment of the lost node running elsewhere:")
    for kind, ts in figures.items():
        ok = [t for t in ts if t is not None]
        if not ok:
            print("  %-8s no figure" % kind)
            continue
        print("  %-8s p50 %.2f s  max %.2f s  (%d kills, %d not moved)" %
              (kind, statistics.median(ok), max(ok), len(ts),
               len(ts) - len(ok)))


if __name__ == "__main__":
    main()
