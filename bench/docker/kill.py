# SPDX-License-Identifier: Apache-2.0
"""kill.py: how soon a Compose cluster's deployments run again elsewhere
after `docker kill` of a node's container (issue 12's "whole host gone":
the guardian dies with the node, nothing certifies, the lease path), by
victim: a follower, and the leader. Uses docker/cluster (brought up
first when it is not; its image rebuilt when stale), deploys D unpinned
`sleep` deployments (env D, default 6), then K kills per kind (env K,
default 5, at most 20): after each, polls `naos status --json` on a
survivor every 50 ms until every deployment that ran on the victim runs
on another node, then `docker start`s the victim and waits until it is
an alive voter again. Prints each kill and p50/max per kind. Bounded:
30 s per kill, T seconds in all (env T, default 900). Removes its
deployments at the end; leaves the cluster up (docker/cluster down).

    python3 bench/docker/kill.py
"""
import json
import os
import statistics
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
cluster = os.path.join(here, "..", "..", "docker", "cluster")
project = os.environ.get("NAOS_COMPOSE_PROJECT", "naos")
D = int(os.environ.get("D", "6"))
K = min(int(os.environ.get("K", "5")), 20)
T = float(os.environ.get("T", "900"))


def ctr(node):
    return "%s_%s_1" % (project, node)


def naos(node, *args, timeout=10):
    p = subprocess.run(["docker", "exec", ctr(node), "naos"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p


def status(via):
    try:
        p = naos(via, "status", "--json", "--timeout", "2s")
        return {d["name"]: d for d in json.loads(p.stdout)["deployments"]}
    except (ValueError, KeyError, subprocess.TimeoutExpired):
        return {}


def nodes(via):
    try:
        return json.loads(naos(via, "nodes", "--json").stdout)
    except (ValueError, subprocess.TimeoutExpired):
        return {}


def leader(via):
    return nodes(via).get("leader") or None


def all_voters_alive(via, want):
    ns = nodes(via).get("nodes", [])
    ok = [m for m in ns if m.get("state") == "alive" and
          m.get("role") in ("leader", "voter")]
    return len(ok) == want and bool(leader(via))


def main():
    names = ["n1", "n2", "n3"]
    if subprocess.run([cluster, "up"]).returncode != 0:
        return 111
    mine = ["bk%d" % i for i in range(D)]
    for m in mine:
        naos("n1", "deploy", m, "--no-wait", "--", "sleep", "100000")
    t_end = time.monotonic() + T
    took = {"follower": [], "leader": []}
    try:
        for k in range(K):
            for kind in ("follower", "leader"):
                if time.monotonic() > t_end:
                    raise TimeoutError("out of time (T=%g s)" % T)
                lead = leader("n1") or leader("n2")
                victim = lead if kind == "leader" else \
                    next(n for n in names if n != lead)
                via = next(n for n in names if n != victim)
                # every deployment running, one at least on the victim
                start = time.monotonic()
                while time.monotonic() - start < 30:
                    st = status(via)
                    if all(st.get(m, {}).get("state") == "running"
                           for m in mine):
                        break
                    time.sleep(0.1)
                lost = [m for m in mine if st[m].get("node") == victim]
                if not lost:
                    continue  # nothing of ours there this time
                t0 = time.monotonic()
                subprocess.run(["docker", "kill", ctr(victim)],
                               capture_output=True)
                moved = None
                while time.monotonic() - t0 < 30:
                    st = status(via)
                    if all(st.get(m, {}).get("node") not in (None, victim)
                           and st[m]["state"] == "running" for m in lost):
                        moved = time.monotonic() - t0
                        break
                    time.sleep(0.05)
                print("docker kill of the %s %s: %d deployments running "
                      "elsewhere in %s" % (kind, victim, len(lost),
                                           "%.2f s" % moved if moved
                                           else "NOT within 30 s"),
                      flush=True)
                if moved is not None:
                    took[kind].append(moved)
                subprocess.run(["docker", "start", ctr(victim)],
                               capture_output=True)
                start = time.monotonic()
                while not all_voters_alive(via, len(names)):
                    if time.monotonic() - start > 60:
                        raise TimeoutError("%s did not come back" % victim)
                    time.sleep(0.2)
    finally:
        for m in mine:
            naos("n1", "rm", m)
    for kind, v in took.items():
        if v:
            print("%s: %d kills, p50 %.2f s, max %.2f s" %
                  (kind, len(v), statistics.median(v), max(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
