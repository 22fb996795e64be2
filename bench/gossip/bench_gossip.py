#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/gossip: naos membership beside HashiCorp Serf, same scenario, same
script run, loopback.

For N in --sizes (default 5 and 20), for naos (lan profile) and Serf (its
lan profile):
  - idle bytes per second per node: every packet on `lo` to or from the
    cluster's gossip ports, captured with tcpdump for --idle seconds once
    the cluster has settled, counted as IP bytes (headers included, so
    TCP's acks count against naos and UDP's small headers for Serf), divided
    by N and the window;
  - detection time: kill -9 of one member (never the seed), then the time
    until EVERY survivor reports it dead (naos: its `member ... dead` event,
    stamped by the node; Serf: its member-failed event handler, stamped by
    `date` in the handler). p50 and max over --kills kills; the victim is
    restarted and seen alive everywhere between kills.
With --freeze K (naos only: Serf reports no suspicion to its handlers):
  - frozen-node suspicion: SIGSTOP of one member (never the seed), then
    the time until EVERY survivor holds it suspect (its `member ...
    suspect` event, stamped by the node), p50 and max over K freezes; the
    victim is thawed (SIGCONT) and seen alive everywhere between freezes.
Then the false-positive check: a 5-node cluster of each for --hog seconds
with every core saturated by busy-loop processes (bounded; killed by PID):
any member marked suspect or dead is reported.

Everything runs in a temp dir, every process is started and ended by PID,
and every wait is bounded. Needs root only for tcpdump (or CAP_NET_RAW).

usage: bench_gossip.py --build BUILD_DIR [--sizes 5,20] [--kills 5]
                       [--idle 20] [--freeze 0] [--hog 60] [--skip-serf]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

PROCS = []  # every process we started, to reap by PID on the way out


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def start(argv, logf, **kw):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
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


def wait_until(pred, timeout, what, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(interval)


USED_PORTS = set()


def free_port():
    # a port free for both TCP and UDP (Serf binds both), never handed out
    # twice (the kernel may offer a port it just offered, once closed)
    while True:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if port in USED_PORTS:
                continue
            u.bind(("127.0.0.1", port))
            USED_PORTS.add(port)
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


# ---- packet capture ----------------------------------------------------


def capture_bytes(ports, seconds, workdir):
    """IP bytes seen on lo to/from any of ports during `seconds`."""
    pcap = os.path.join(workdir, "cap.pcap")
    filt = " or ".join("port %d" % p for p in ports)
    errf = open(os.path.join(workdir, "tcpdump.err"), "w+")
    p = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "-s", "96",
                          "-w", pcap, filt], stdout=subprocess.DEVNULL,
                         stderr=errf)
    PROCS.append(p)
    try:
        def listening():
            errf.seek(0)
            return "listening on" in errf.read()
        wait_until(listening, 10, "tcpdump to start")
        t0 = time.monotonic()
        time.sleep(seconds)
        took = time.monotonic() - t0
    finally:
        stop(p, signal.SIGINT)
        errf.close()
    total = 0
    with open(pcap, "rb") as f:
        hdr = f.read(24)
        magic, = struct.unpack("<I", hdr[:4])
        end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        linktype, = struct.unpack(end + "I", hdr[20:24])
        l2 = {1: 14, 113: 16, 276: 20, 0: 4}.get(linktype, 14)
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            _, _, incl, orig = struct.unpack(end + "IIII", rh)
            f.read(incl)
            total += orig - l2
    return total, took


# ---- naos ---------------------------------------------------------------


class NaosCluster:
    def __init__(self, build, n, workdir):
        self.node_bin = os.path.join(build, "node", "naos-node")
        self.cli = os.path.join(build, "cli", "naos")
        self.n = n
        self.dir = os.path.join(workdir, "naos%d" % n)
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, "key")
        subprocess.run([self.cli, "keygen", self.key], check=True,
                       capture_output=True, timeout=10)
        self.procs = [None] * n
        self.addrs = [None] * n

    def name(self, i):
        return "n%d" % i

    def run(self, i):
        return os.path.join(self.dir, "r%d" % i)

    def start_node(self, i):
        args = [self.node_bin, "start", "--run", self.run(i), "--data",
                os.path.join(self.dir, "d%d" % i), "--name", self.name(i),
                "--http", "off", "--listen", "tcp://127.0.0.1:0", "--key",
                self.key, "--profile", "lan", "--log-level", "warn"]
        if i > 0:
            args += ["--seeds", self.addrs[0]]
        try:
            os.unlink(os.path.join(self.run(i), "gossip.addr"))
        except OSError:
            pass
        logf = open(os.path.join(self.dir, "log%d" % i), "ab")
        self.procs[i] = start(args, logf)
        path = os.path.join(self.run(i), "gossip.addr")
        wait_until(lambda: os.path.exists(path), 10, "naos gossip.addr")
        with open(path) as f:
            self.addrs[i] = f.read().strip()

    def cli_json(self, i, *args):
        p = subprocess.run([self.cli, "--run", self.run(i), "--json", *args],
                           capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            return None
        out = p.stdout.strip()
        try:
            return json.loads(out)
        except ValueError:
            return [json.loads(l) for l in out.splitlines() if l.strip()]

    def states(self, i):
        doc = self.cli_json(i, "nodes")
        return {m["name"]: m["state"] for m in doc["nodes"]} if doc else {}

    def start(self):
        for i in range(self.n):
            self.start_node(i)
        self.wait_all_alive()

    def live(self):
        return [i for i in range(self.n) if self.procs[i] is not None]

    def wait_all_alive(self, timeout=30):
        names = [self.name(i) for i in range(self.n)]

        def ok():
            for i in self.live():
                st = self.states(i)
                if any(st.get(nm) != "alive" for nm in names):
                    return False
            return True
        wait_until(ok, timeout, "every naos node to see %d alive" % self.n,
                   interval=0.1)

    def ports(self):
        return [int(a.rsplit(":", 1)[1]) for a in self.addrs]

    def kill(self, i):
        stop(self.procs[i], signal.SIGKILL)
        self.procs[i] = None

    def detected_at(self, i, victim, since_wall, reasons=("dead",)):
        """Wall time (s) observer i marked victim dead (or any of reasons)
        after since_wall."""
        evs = self.cli_json(i, "events") or []
        for e in evs:
            if (e.get("kind") == "member" and e.get("path") ==
                    self.name(victim) and e.get("reason") in reasons):
                t = iso_to_epoch(e["at"])
                if t >= since_wall - 0.002:
                    return t
        return None

    def freeze(self, i, on):
        os.kill(self.procs[i].pid, signal.SIGSTOP if on else signal.SIGCONT)

    def bad_events(self):
        """(suspects, deaths) seen by any node."""
        sus = dead = 0
        for i in self.live():
            for e in self.cli_json(i, "events") or []:
                if e.get("kind") == "member":
                    if e.get("reason") == "suspect":
                        sus += 1
                    elif e.get("reason") == "dead":
                        dead += 1
        return sus, dead

    def stop(self):
        for i in self.live():
            stop(self.procs[i])
            self.procs[i] = None


def iso_to_epoch(s):
    # "2026-11-21T10:12:03.123Z"
    import calendar
    main, frac = s.rstrip("Z").split(".")
    t = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return t + int(frac) / 1000.0


# ---- serf ---------------------------------------------------------------

HANDLER = """#!/bin/sh
ts=$(date +%s.%N)
while IFS= read -r line; do
  printf '%s %s %s\\n' "$ts" "$SERF_EVENT" "$line" >> "{dir}/$SERF_SELF_NAME.events"
done
"""


class SerfCluster:
    def __init__(self, n, workdir):
        self.n = n
        self.dir = os.path.join(workdir, "serf%d" % n)
        os.makedirs(self.dir)
        self.handler = os.path.join(self.dir, "handler.sh")
        with open(self.handler, "w") as f:
            f.write(HANDLER.replace("{dir}", self.dir))
        os.chmod(self.handler, 0o755)
        self.procs = [None] * n
        self.bind = [free_port() for _ in range(n)]
        self.rpc = [free_port() for _ in range(n)]

    def name(self, i):
        return "s%d" % i

    def start_node(self, i):
        args = ["serf", "agent", "-node=" + self.name(i),
                "-bind=127.0.0.1:%d" % self.bind[i],
                "-rpc-addr=127.0.0.1:%d" % self.rpc[i], "-profile=lan",
                "-log-level=warn",
                "-event-handler=member-join,member-failed=" + self.handler]
        if i > 0:
            args.append("-join=127.0.0.1:%d" % self.bind[0])
        logf = open(os.path.join(self.dir, "log%d" % i), "ab")
        self.procs[i] = start(args, logf)

    def live(self):
        return [i for i in range(self.n) if self.procs[i] is not None]

    def alive_count(self, i):
        p = subprocess.run(["serf", "members", "-rpc-addr=127.0.0.1:%d" %
                            self.rpc[i], "-status=alive"],
                           capture_output=True, text=True, timeout=10)
        return len(p.stdout.strip().splitlines()) if p.returncode == 0 else 0

    def start(self):
        self.start_node(0)
        wait_until(lambda: self.alive_count(0) == 1, 10, "serf seed")
        for i in range(1, self.n):
            self.start_node(i)
        self.wait_all_alive()

    def wait_all_alive(self, timeout=60):
        wait_until(lambda: all(self.alive_count(i) == self.n
                               for i in self.live()), timeout,
                   "every serf agent to see %d alive" % self.n, interval=0.2)

    def ports(self):
        return self.bind

    def kill(self, i):
        stop(self.procs[i], signal.SIGKILL)
        self.procs[i] = None

    def events_of(self, i):
        try:
            with open(os.path.join(self.dir, self.name(i) + ".events")) as f:
                return [l.split(None, 3) for l in f if l.strip()]
        except OSError:
            return []

    def detected_at(self, i, victim, since_wall):
        for ev in self.events_of(i):
            if (len(ev) >= 3 and ev[1] == "member-failed" and
                    ev[2] == self.name(victim) and float(ev[0]) >= since_wall):
                return float(ev[0])
        return None

    def bad_events(self):
        dead = 0
        for i in self.live():
            dead += sum(1 for ev in self.events_of(i)
                        if len(ev) >= 2 and ev[1] == "member-failed")
        return None, dead

    def stop(self):
        for i in self.live():
            stop(self.procs[i], signal.SIGINT)
            self.procs[i] = None


# ---- scenarios ------------------------------------------------------------


def detection(cl, kills, timeout):
    times = []
    victims = [1 + (k % (cl.n - 1)) for k in range(kills)]
    for v in victims:
        survivors = [i for i in cl.live() if i != v]
        t0 = time.time()
        cl.kill(v)
        seen = {}

        def all_seen():
            for i in survivors:
                if i not in seen:
                    t = cl.detected_at(i, v, t0)
                    if t is not None:
                        seen[i] = t
            return len(seen) == len(survivors)
        wait_until(all_seen, timeout, "every survivor to mark %s dead" %
                   cl.name(v), interval=0.1)
        took = max(seen.values()) - t0
        times.append(took)
        log("  %s: kill -9 %s -> dead at all %d survivors in %.2f s" %
            (type(cl).__name__, cl.name(v), len(survivors), took))
        cl.start_node(v)
        cl.wait_all_alive()
        time.sleep(1)
    return times


def freezes(cl, count, timeout):
    """SIGSTOP a member until every survivor suspects it; SIGCONT."""
    times = []
    for k in range(count):
        v = 1 + (k % (cl.n - 1))
        survivors = [i for i in cl.live() if i != v]
        t0 = time.time()
        cl.freeze(v, True)
        seen = {}
        try:
            def all_seen():
                for i in survivors:
                    if i not in seen:
                        t = cl.detected_at(i, v, t0, ("suspect", "dead"))
                        if t is not None:
                            seen[i] = t
                return len(seen) == len(survivors)
            wait_until(all_seen, timeout, "every survivor to suspect %s" %
                       cl.name(v), interval=0.1)
        finally:
            cl.freeze(v, False)
        took = max(seen.values()) - t0
        times.append(took)
        log("  SIGSTOP %s -> suspected at all %d survivors in %.2f s" %
            (cl.name(v), len(survivors), took))
        cl.wait_all_alive()
        time.sleep(1)
    return times


def idle_bytes(cl, seconds, workdir):
    time.sleep(3)  # let join gossip die down
    total, took = capture_bytes(cl.ports(), seconds, workdir)
    return total / cl.n / took


def hog(seconds, workdir, build, skip_serf):
    res = {}
    clusters = [("naos", NaosCluster(build, 5, os.path.join(workdir,
                                                              "hog")))]
    os.makedirs(os.path.join(workdir, "hog"), exist_ok=True)
    if not skip_serf:
        clusters.append(("serf", SerfCluster(5, os.path.join(workdir,
                                                             "hog"))))
    for _, c in clusters:
        c.start()
    time.sleep(2)
    hogs = []
    try:
        for _ in range(os.cpu_count() or 2):
            hogs.append(start(["timeout", str(seconds + 5), "sh", "-c",
                               "while :; do :; done"], subprocess.DEVNULL))
        log("  %d CPU hogs for %d s" % (len(hogs), seconds))
        time.sleep(seconds)
    finally:
        for h in hogs:
            stop(h, signal.SIGKILL)
    time.sleep(2)
    for name, c in clusters:
        res[name] = c.bad_events()
        c.stop()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--sizes", default="5,20")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--idle", type=int, default=20)
    ap.add_argument("--freeze", type=int, default=0)
    ap.add_argument("--hog", type=int, default=60)
    ap.add_argument("--skip-serf", action="store_true")
    a = ap.parse_args()
    if shutil.which("tcpdump") is None:
        sys.exit("bench_gossip: fatal: tcpdump is needed (apt-get install "
                 "tcpdump)")
    if not a.skip_serf and shutil.which("serf") is None:
        sys.exit("bench_gossip: fatal: serf is needed (apt-get install serf)")
    workdir = tempfile.mkdtemp(prefix="nbg", dir="/tmp")
    rows = []
    frozen = []
    try:
        for n in [int(x) for x in a.sizes.split(",")]:
            for kind in (["naos"] + ([] if a.skip_serf else ["serf"])):
                log("%s N=%d" % (kind, n))
                cl = (NaosCluster(a.build, n, workdir) if kind == "naos"
                      else SerfCluster(n, workdir))
                try:
                    cl.start()
                    bps = idle_bytes(cl, a.idle, workdir)
                    log("  idle: %.0f B/s per node" % bps)
                    t = detection(cl, a.kills, 60)
                    if kind == "naos" and a.freeze:
                        f = freezes(cl, a.freeze, 60)
                        frozen.append((n, statistics.median(f), max(f)))
                finally:
                    cl.stop()
                rows.append((kind, n, statistics.median(t), max(t), bps))
        hogres = hog(a.hog, workdir, a.build, a.skip_serf) if a.hog else {}
    finally:
        reap_all()
        shutil.rmtree(workdir, ignore_errors=True)

    print("\nmembership on loopback, lan profiles, %d kills per size, idle "
          "window %d s" % (a.kills, a.idle))
    print("%-5s %4s  %12s  %12s  %14s" % ("", "N", "detect p50", "detect max",
                                          "idle B/s/node"))
    for kind, n, p50, mx, bps in rows:
        print("%-5s %4d  %10.2f s  %10.2f s  %14.0f" % (kind, n, p50, mx, bps))
    by = {(k, n): (p50, mx, b) for k, n, p50, mx, b in rows}
    for n in sorted({n for _, n, _, _, _ in rows}):
        if ("naos", n) in by and ("serf", n) in by:
            na, se = by[("naos", n)], by[("serf", n)]
            print("N=%-3d naos/serf: detection p50 %.2fx, max %.2fx, idle "
                  "bytes %.2fx" % (n, na[0] / se[0], na[1] / se[1],
                                   na[2] / se[2]))
    for n, p50, mx in frozen:
        print("naos N=%d frozen node (SIGSTOP) suspected by every survivor: "
              "p50 %.2f s, max %.2f s over %d freezes" % (n, p50, mx,
                                                         a.freeze))
    for name, (sus, dead) in hogres.items():
        print("CPU hog %d s, 5 nodes, %s: %s suspect, %d dead events" %
              (a.hog, name, "-" if sus is None else sus, dead))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        reap_all()
        sys.exit(130)
