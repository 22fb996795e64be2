#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/raft: naos's replicated log beside etcd 3.4, same scenario, same
script run, loopback, 3 voters each.

naos: 3 founders (`naos-node start --listen --key --seeds --bootstrap-expect
3`); a committed write is `naos checkpoint save REG -f FILE` (REG a
deployment pinned to one node; the save is proposed by the node that runs
REG: the leader itself, or a follower that relays it to the leader) with
NAOS_RUN_DIR naming the node asked. etcd: 3 members (static
--initial-cluster); a committed write is `etcdctl put KEY VALUE` against one
member's client URL. Both through their CLI, so EVERY operation pays one
process spawn (a Go binary for etcdctl, a C one for naos): the no-op
baseline of each CLI (`naos ping`, `etcdctl version`) shows that floor.
Each system runs alone (the other is stopped) and they alternate per
figure only in the sense that both are measured in the same run.

Figures, for each system:
  - spawn floor: --floor no-op CLI runs, p50;
  - sequential committed write latency, --seq writes through the leader
    and --seq through a follower, p50 / p99;
  - throughput: --clients concurrent clients (spread over the 3 members)
    writing in a loop for --secs seconds: acknowledged writes per second;
  - failover: kill -9 of the leader, then one client writing in a loop
    through a survivor; time from the kill to the first acknowledged write
    issued after it; p50 / max over --kills kills; the victim is restarted
    and the cluster seen healthy (one leader, every member caught up)
    between kills;
  - catch-up: a follower stopped (SIGTERM), --behind writes committed
    without it (--clients concurrent clients through the leader), then
    restarted: time from its start until its applied index reaches the
    leader's commit index as read at the restart (naos: /metrics
    naos_raft_applied_index / naos_raft_commit_index; etcd: the
    maintenance status raftAppliedIndex / raftIndex, read over its JSON
    gateway).
Then naos/etcd ratios (above 1: naos slower).

Everything runs in one temp dir, every process is started and ended by PID
(the naos workers, `sleep`, found by an environment entry of this run and
killed by PID), and every wait is bounded. Progress on stderr; a table and
one JSON document on stdout.

usage: bench_raft.py --build BUILD_DIR [--quick] [--seq 200] [--secs 10]
                     [--clients 16] [--kills 20] [--behind 4000]
                     [--floor 50] [--skip-etcd] [--skip-naos]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

PROCS = []  # every long-lived process we started, to reap by PID
CLI_TIMEOUT = 20  # s, one CLI call (naos's own is 10 s, etcdctl's below)
PAYLOAD = "x" * 100  # the value of every write, both systems


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def start(argv, logf, **kw):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    if p in PROCS:
        PROCS.remove(p)


def reap_all():
    for p in list(PROCS):
        stop(p, signal.SIGKILL)


def wait_until(pred, timeout, what, interval=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError("timed out after %.0f s waiting for %s" %
                               (timeout, what))
        time.sleep(interval)


USED_PORTS = set()


def free_tcp_ports(n):
    """n distinct free TCP ports below the ephemeral range (as
    cluster-tests/it/harness.py: no socket bound to port 0 takes them
    before a member binds them, and a restarted member keeps its own)."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    top = max(2048, min(low, 65536))
    ports = []
    for _ in range(2000):
        if len(ports) == n:
            return ports
        port = random.randrange(max(1024, top - 12000), top)
        if port in ports or port in USED_PORTS:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        ports.append(port)
        USED_PORTS.add(port)
    raise RuntimeError("no %d free TCP ports below %d" % (n, top))


def run_cli(argv, env=None, timeout=CLI_TIMEOUT):
    """(ok, seconds, output) of one CLI run, spawn included."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=env,
                           timeout=timeout)
        ok = p.returncode == 0
        out = (p.stdout + p.stderr).strip()
    except subprocess.TimeoutExpired:
        ok, out = False, "timed out after %d s" % timeout
    return ok, time.monotonic() - t0, out


def pct(xs, q):
    """q-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


# loopback only: never through a proxy the environment may name
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=2):
    with OPENER.open(url, timeout=timeout) as r:
        return r.read().decode()


def http_post_json(url, body, timeout=2):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type":
                                          "application/json"})
    with OPENER.open(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


# ---- naos -----------------------------------------------------------------


class Members:
    """What both clusters do alike with their 3 members' processes
    (self.procs[i]: the Popen, None while down; start_node(i) starts
    member i)."""

    def live(self):
        return [i for i in range(3) if self.procs[i] is not None]

    def kill(self, i, sig=signal.SIGKILL):
        stop(self.procs[i], sig)
        self.procs[i] = None

    def freeze(self, i, on):
        os.kill(self.procs[i].pid, signal.SIGSTOP if on else signal.SIGCONT)

    def restart(self, i):
        self.start_node(i)

    def stop(self):
        for i in self.live():
            stop(self.procs[i])
            self.procs[i] = None


class Naos(Members):
    kind = "naos"

    def __init__(self, build, workdir):
        build = os.path.abspath(build)
        self.node_bin = os.path.join(build, "node", "naos-node")
        self.cli = os.path.join(build, "cli", "naos")
        for b in (self.node_bin, self.cli):
            if not os.access(b, os.X_OK):
                raise RuntimeError("no %s (build it first)" % b)
        self.dir = os.path.join(workdir, "naos")
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, "key")
        subprocess.run([self.cli, "keygen", self.key], check=True,
                       capture_output=True, timeout=10)
        self.ports = free_tcp_ports(3)
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in self.ports]
        self.procs = [None] * 3
        self.trace = "NAOS_BENCH_RAFT=" + uuid.uuid4().hex
        self.blob = os.path.join(self.dir, "blob")
        with open(self.blob, "w") as f:
            f.write(PAYLOAD)
        self.envs = []
        for i in range(3):
            e = dict(os.environ)
            e["NAOS_RUN_DIR"] = self.run(i)
            e["NO_COLOR"] = "1"
            self.envs.append(e)

    def name(self, i):
        return "r%d" % i

    def run(self, i):
        return os.path.join(self.dir, "run%d" % i)

    def start_node(self, i):
        seeds = ",".join(a for j, a in enumerate(self.addrs) if j != i)
        args = [self.node_bin, "start", "--name", self.name(i), "--listen",
                self.addrs[i], "--key", self.key, "--seeds", seeds,
                "--bootstrap-expect", "3", "--data",
                os.path.join(self.dir, "data%d" % i), "--run", self.run(i),
                "--http", "127.0.0.1:0", "--log-level", "warn"]
        try:
            os.unlink(os.path.join(self.run(i), "http.addr"))
        except OSError:
            pass
        logf = open(os.path.join(self.dir, "log%d" % i), "ab")
        env = dict(os.environ)
        env.pop("NAOS_RUN_DIR", None)
        env.pop("NOTIFY_SOCKET", None)
        self.procs[i] = start(args, logf, env=env, cwd=self.dir)
        logf.close()

    def metrics(self, i):
        """{name: value} of node i's naos_raft_* samples, or None."""
        try:
            with open(os.path.join(self.run(i), "http.addr")) as f:
                addr = f.read().strip()
            if "://" not in addr:
                addr = "http://" + addr
            body = http_get(addr + "/metrics")
        except (OSError, ValueError):
            return None
        out = {}
        for line in body.splitlines():
            m = re.match(r"^(naos_raft_[a-z_]+)\s+([0-9.eE+-]+)$", line)
            if m:
                out[m.group(1)[len("naos_raft_"):]] = float(m.group(2))
        return out

    def leader(self):
        """index of the one leader all live members agree on (same term,
        3 voters), else None."""
        st = {i: self.metrics(i) for i in self.live()}
        if any(s is None or "leader" not in s for s in st.values()):
            return None
        leaders = [i for i, s in st.items() if s["leader"] == 1]
        terms = {s["term"] for s in st.values()}
        if (len(leaders) == 1 and len(terms) == 1 and
                all(s.get("voters") == 3 for s in st.values())):
            return leaders[0]
        return None

    def commit(self, i):
        s = self.metrics(i)
        return None if s is None else int(s["commit_index"])

    def applied(self, i):
        s = self.metrics(i)
        return None if s is None else int(s["applied_index"])

    def healthy(self):
        """a leader, every member up and applied up to its commit."""
        ld = self.leader()
        if ld is None or len(self.live()) != 3:
            return None
        c = self.commit(ld)
        if c is None:
            return None
        for i in self.live():
            a = self.applied(i)
            if a is None or a < c:
                return None
        return ld

    def wait_healthy(self, timeout=60):
        return wait_until(lambda: (lambda v: None if v is None else (v,))(
            self.healthy()), timeout, "naos: one leader, all caught up",
            interval=0.05)[0]

    def start(self):
        for i in range(3):
            self.start_node(i)
        ld = self.wait_healthy()
        # one register per node, pinned there: a save through node i
        # names reg-ri, which runs on node i (proposed there, or relayed)
        for i in range(3):
            ok, _, out = run_cli([self.cli, "deploy", self.reg(i), "--on",
                                  self.name(i), "--no-wait", "--env",
                                  self.trace, "--", "sleep", "100000"],
                                 env=self.envs[ld])
            if not ok:
                raise RuntimeError("naos deploy %s: %s" % (self.reg(i), out))
        for i in range(3):
            wait_until(lambda: self.write(i)[0], 30,
                       "a first checkpoint of %s" % self.reg(i), 0.2)
        return self.wait_healthy()

    def reg(self, i):
        return "reg-%s" % self.name(i)

    def write(self, via, attempt=None):
        """one committed write through node via; attempt: the CLI's own
        timeout (s), else its default (10 s)."""
        t = [] if attempt is None else ["--timeout",
                                        "%dms" % int(attempt * 1000)]
        return run_cli([self.cli, *t, "checkpoint", "save", self.reg(via),
                        "-f", self.blob], env=self.envs[via])

    def noop(self, via):
        return run_cli([self.cli, "ping"], env=self.envs[via])

    def stop(self):
        Members.stop(self)
        kill_traced(self.trace)


def kill_traced(trace):
    """Kills, by PID, every process whose environment holds trace (the
    naos workers this run deployed: a node killed -9 leaves its own)."""
    want = trace.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# ---- etcd -----------------------------------------------------------------


class Etcd(Members):
    kind = "etcd"

    def __init__(self, workdir):
        for b in ("etcd", "etcdctl"):
            if shutil.which(b) is None:
                raise RuntimeError("no %s (apt-get install etcd-server "
                                   "etcd-client)" % b)
        self.dir = os.path.join(workdir, "etcd")
        os.makedirs(self.dir)
        ports = free_tcp_ports(6)
        self.client = ports[:3]
        self.peer = ports[3:]
        self.procs = [None] * 3
        self.env = dict(os.environ)
        self.env["ETCDCTL_API"] = "3"
        self.seq = 0
        self.lock = threading.Lock()

    def name(self, i):
        return "e%d" % i

    def url(self, i):
        return "http://127.0.0.1:%d" % self.client[i]

    def start_node(self, i):
        cluster = ",".join("e%d=http://127.0.0.1:%d" % (j, self.peer[j])
                           for j in range(3))
        args = ["etcd", "--name", self.name(i), "--data-dir",
                os.path.join(self.dir, "data%d" % i),
                "--listen-client-urls", self.url(i),
                "--advertise-client-urls", self.url(i),
                "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer[i],
                "--initial-advertise-peer-urls",
                "http://127.0.0.1:%d" % self.peer[i],
                "--initial-cluster", cluster, "--initial-cluster-state",
                "new", "--initial-cluster-token", "bench-raft",
                "--logger", "zap", "--log-level", "warn"]
        logf = open(os.path.join(self.dir, "log%d" % i), "ab")
        self.procs[i] = start(args, logf)
        logf.close()

    def status(self, i):
        try:
            return http_post_json(self.url(i) + "/v3/maintenance/status", {})
        except (OSError, ValueError):
            return None

    def leader(self):
        st = {i: self.status(i) for i in self.live()}
        if any(s is None for s in st.values()):
            return None
        leaders = [i for i, s in st.items()
                   if s.get("leader") == s["header"]["member_id"]]
        ids = {s.get("leader") for s in st.values()}
        return leaders[0] if len(leaders) == 1 and len(ids) == 1 else None

    def commit(self, i):
        s = self.status(i)
        return None if s is None else int(s.get("raftIndex", 0))

    def applied(self, i):
        s = self.status(i)
        if s is None:
            return None
        # 3.4 reports raftAppliedIndex; raftIndex is the commit index
        return int(s.get("raftAppliedIndex", s.get("raftIndex", 0)))

    def healthy(self):
        ld = self.leader()
        if ld is None or len(self.live()) != 3:
            return None
        c = self.commit(ld)
        for i in self.live():
            a = self.applied(i)
            if a is None or c is None or a < c:
                return None
        return ld

    def wait_healthy(self, timeout=60):
        return wait_until(lambda: (lambda v: None if v is None else (v,))(
            self.healthy()), timeout, "etcd: one leader, all caught up",
            interval=0.05)[0]

    def start(self):
        for i in range(3):
            self.start_node(i)
        self.wait_healthy()
        for i in range(3):
            wait_until(lambda: self.write(i)[0], 30,
                       "a first put through %s" % self.name(i), 0.2)
        return self.wait_healthy()

    def write(self, via, attempt=None):
        """one committed write (a put of a new key) through member via;
        attempt: etcdctl's --command-timeout (s), else 10 s."""
        with self.lock:
            self.seq += 1
            k = "k%d" % self.seq
        ct = "%dms" % int((attempt or 10) * 1000)
        return run_cli(["etcdctl", "--endpoints", self.url(via),
                        "--dial-timeout", "2s", "--command-timeout", ct,
                        "put", k, PAYLOAD], env=self.env)

    def noop(self, via):
        return run_cli(["etcdctl", "version"], env=self.env)



# ---- scenarios --------------------------------------------------------------


def floor(cl, n):
    ld = cl.wait_healthy()
    ts = []
    for _ in range(n):
        ok, t, out = cl.noop(ld)
        if not ok:
            raise RuntimeError("%s no-op failed: %s" % (cl.kind, out))
        ts.append(t)
    log("  %s spawn floor: p50 %.1f ms over %d" %
        (cl.kind, statistics.median(ts) * 1e3, n))
    return {"p50_ms": statistics.median(ts) * 1e3, "n": n}


def sequential(cl, n):
    ld = cl.wait_healthy()
    fo = [i for i in range(3) if i != ld][0]
    res = {}
    for label, via in (("leader", ld), ("follower", fo)):
        ts, fails = [], 0
        for _ in range(n):
            ok, t, _ = cl.write(via)
            if ok:
                ts.append(t)
            else:
                fails += 1
        res[label] = {"p50_ms": pct(ts, 50) * 1e3, "p99_ms": pct(ts, 99) * 1e3,
                      "n": len(ts), "failed": fails}
        log("  %s sequential via %s: p50 %.1f ms p99 %.1f ms (%d ok, %d "
            "failed)" % (cl.kind, label, res[label]["p50_ms"],
                         res[label]["p99_ms"], len(ts), fails))
    return res


def concurrent(cl, clients, secs, vias=None, count=None):
    """clients threads writing in a loop, for secs seconds (or until count
    writes are acknowledged in all). Returns (acks, fails, elapsed,
    latencies)."""
    vias = vias or [0, 1, 2]
    lock = threading.Lock()
    state = {"ok": 0, "fail": 0, "lat": []}
    t0 = time.monotonic()
    deadline = t0 + secs

    def worker(c):
        via = vias[c % len(vias)]
        while time.monotonic() < deadline:
            with lock:
                if count is not None and state["ok"] + state["inflight"] >= \
                        count:
                    return
                state["inflight"] += 1
            ok, t, _ = cl.write(via)
            with lock:
                state["inflight"] -= 1
                if ok:
                    state["ok"] += 1
                    state["lat"].append(t)
                else:
                    state["fail"] += 1
    state["inflight"] = 0
    ths = [threading.Thread(target=worker, args=(c,), daemon=True)
           for c in range(clients)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(timeout=secs + 2 * CLI_TIMEOUT + 5)
        if t.is_alive():
            raise RuntimeError("a client thread outlived its bound")
    return state["ok"], state["fail"], time.monotonic() - t0, state["lat"]


def throughput(cl, clients, secs):
    cl.wait_healthy()
    ok, fails, el, lat = concurrent(cl, clients, secs)
    r = {"writes_per_s": ok / el, "acked": ok, "failed": fails,
         "seconds": el, "clients": clients,
         "lat_p50_ms": pct(lat, 50) * 1e3, "lat_p99_ms": pct(lat, 99) * 1e3}
    log("  %s %d clients %.1f s: %.1f writes/s (%d acked, %d failed; "
        "latency p50 %.0f ms p99 %.0f ms)" % (cl.kind, clients, el,
                                              r["writes_per_s"], ok, fails,
                                              r["lat_p50_ms"],
                                              r["lat_p99_ms"]))
    return r


def failover(cl, count, attempt, freeze=False):
    """kill -9 (freeze: SIGSTOP) of the leader, then one client writing in
    a loop through a survivor, each attempt bounded by the CLI's own
    timeout `attempt`: time from the signal to the first acknowledged
    write issued after it. The victim is restarted (thawed) and the
    cluster seen healthy before the next."""
    what = "SIGSTOP" if freeze else "kill -9"
    times, attempts, firsts = [], [], {}
    for k in range(count):
        ld = cl.wait_healthy(90)
        surv = [i for i in range(3) if i != ld][k % 2]
        t0 = time.monotonic()
        if freeze:
            cl.freeze(ld, True)
        else:
            cl.kill(ld)
        n = 0
        first = None
        try:
            while True:
                n += 1
                ok, _, out = cl.write(surv, attempt)
                if ok:
                    break
                if first is None:
                    first = out.splitlines()[-1][:120] if out else "?"
                if time.monotonic() - t0 > 90:
                    raise RuntimeError("%s: no write acknowledged within 90 "
                                       "s of the leader's %s: %s" %
                                       (cl.kind, what, out))
                time.sleep(0.005)
        finally:
            if freeze:
                cl.freeze(ld, False)
        took = time.monotonic() - t0
        times.append(took)
        attempts.append(n)
        if first:
            firsts[first] = firsts.get(first, 0) + 1
        log("  %s %s %d/%d: %s %s -> write through %s acked after %.3f s "
            "(%d attempts%s)" % (cl.kind, what, k + 1, count, what,
                                 cl.name(ld), cl.name(surv), took, n,
                                 "; first failure: " + first if first
                                 else ""))
        if not freeze:
            cl.restart(ld)
        cl.wait_healthy(90)
        time.sleep(0.5)
    return {"p50_s": statistics.median(times), "max_s": max(times),
            "count": count, "attempts_max": max(attempts),
            "attempt_timeout_s": attempt, "first_failures": firsts}


def catchup(cl, behind, clients):
    ld = cl.wait_healthy()
    fo = [i for i in range(3) if i != ld][0]
    before = cl.applied(fo)
    cl.kill(fo, signal.SIGTERM)
    ok, fails, el, _ = concurrent(cl, clients, 600, vias=[ld],
                                  count=behind)
    if ok < behind:
        raise RuntimeError("%s: only %d of %d writes acknowledged within "
                           "600 s" % (cl.kind, ok, behind))
    log("  %s: %s stopped; %d writes without it in %.1f s (%d failed)" %
        (cl.kind, cl.name(fo), ok, el, fails))
    target = cl.commit(ld)
    if target is None:
        raise RuntimeError("%s: leader gave no commit index" % cl.kind)
    t0 = time.monotonic()
    cl.restart(fo)
    seen = {}

    def caught_up():
        a = cl.applied(fo)
        if a is not None and "first" not in seen:
            seen["first"] = time.monotonic() - t0
            seen["first_applied"] = a
        return (a or 0) >= target
    wait_until(caught_up, 300, "%s %s to apply %d" %
               (cl.kind, cl.name(fo), target), interval=0.01)
    took = time.monotonic() - t0
    log("  %s: %s restarted %d entries behind -> applied %d in %.2f s "
        "(first answered %.2f s after its start, applied %d then)" %
        (cl.kind, cl.name(fo), target - before, target, took, seen["first"],
         seen["first_applied"]))
    cl.wait_healthy()
    return {"seconds": took, "entries_behind": target - before,
            "writes": ok, "first_answer_s": seen["first"],
            "applied_at_first_answer": seen["first_applied"]}


# ---- main -------------------------------------------------------------------


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true",
                    help="small counts: --seq 30 --secs 3 --kills 3 "
                    "--behind 300 --floor 10")
    ap.add_argument("--seq", type=int, default=200)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--behind", type=int, default=4000)
    ap.add_argument("--floor", type=int, default=50)
    ap.add_argument("--freezes", type=int, default=10,
                    help="leader SIGSTOPs (no FIN on its connections)")
    ap.add_argument("--attempt-timeout", type=float, default=0.25,
                    help="each failover write's CLI timeout, s (naos "
                    "--timeout, etcdctl --command-timeout)")
    ap.add_argument("--skip-etcd", action="store_true")
    ap.add_argument("--skip-naos", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.seq, a.secs, a.kills, a.behind, a.floor = 30, 3, 3, 300, 10
        a.freezes = 3
    kinds = ([] if a.skip_naos else ["naos"]) + \
        ([] if a.skip_etcd else ["etcd"])
    workdir = tempfile.mkdtemp(prefix="nbr", dir="/tmp")
    res = {}
    try:
        for kind in kinds:
            log("%s: 3 voters on loopback" % kind)
            cl = Naos(a.build, workdir) if kind == "naos" else Etcd(workdir)
            try:
                t0 = time.monotonic()
                cl.start()
                r = {"formed_s": time.monotonic() - t0}
                r["floor"] = floor(cl, a.floor)
                r["sequential"] = sequential(cl, a.seq)
                r["throughput"] = throughput(cl, a.clients, a.secs)
                r["failover"] = failover(cl, a.kills, a.attempt_timeout)
                if a.freezes:
                    r["freeze"] = failover(cl, a.freezes, a.attempt_timeout,
                                           freeze=True)
                r["catchup"] = catchup(cl, a.behind, a.clients)
                res[kind] = r
            finally:
                cl.stop()
    finally:
        reap_all()
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [
        ("CLI no-op (spawn floor) p50 ms", ("floor", "p50_ms")),
        ("seq write via leader p50 ms", ("sequential", "leader", "p50_ms")),
        ("seq write via leader p99 ms", ("sequential", "leader", "p99_ms")),
        ("seq write via follower p50 ms", ("sequential", "follower",
                                           "p50_ms")),
        ("seq write via follower p99 ms", ("sequential", "follower",
                                           "p99_ms")),
        ("%d clients writes/s" % a.clients, ("throughput", "writes_per_s")),
        ("leader kill -> write p50 s", ("failover", "p50_s")),
        ("leader kill -> write max s", ("failover", "max_s")),
        ("leader SIGSTOP -> write p50 s", ("freeze", "p50_s")),
        ("leader SIGSTOP -> write max s", ("freeze", "max_s")),
        ("catch-up: member answers s", ("catchup", "first_answer_s")),
        ("catch-up: caught up s", ("catchup", "seconds")),
        ("catch-up entries behind", ("catchup", "entries_behind")),
    ]

    def get(kind, path):
        v = res.get(kind)
        for p in path:
            v = None if v is None else v.get(p)
        return v

    print("\nreplicated log, 3 voters on loopback; every operation is one "
          "CLI process (naos / etcdctl), spawn included; 2 shared cores, "
          "noisy")
    print("seq %d writes per path, %d clients for %.0f s, %d leader kills, "
          "%d leader freezes (failover attempts time out at %.2f s), "
          "catch-up of %d writes" % (a.seq, a.clients, a.secs, a.kills,
                                     a.freezes, a.attempt_timeout, a.behind))
    print("%-34s %12s %12s %10s" % ("", "naos", "etcd", "naos/etcd"))
    ratios = {}
    for label, path in rows:
        n, e = get("naos", path), get("etcd", path)
        rt = ratio(n, e) if n is not None and e is not None else None
        if rt is not None:
            ratios["/".join(path)] = rt
        print("%-34s %12s %12s %10s" % (
            label, "-" if n is None else "%.2f" % n,
            "-" if e is None else "%.2f" % e,
            "-" if rt is None else "%.2fx" % rt))
    print("ratios: below 1x naos is faster, except writes/s (above 1x naos "
          "is faster)")
    print(json.dumps({"args": vars(a), "results": res,
                      "ratios_naos_over_etcd": ratios}, sort_keys=True))


if __name__ == "__main__":
    # SIGTERM unwinds like an error: every finally reaps and removes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except KeyboardInterrupt:
        reap_all()
        sys.exit(130)
