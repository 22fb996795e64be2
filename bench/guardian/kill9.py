# SPDX-License-Identifier: Apache-2.0
"""kill9.py: how soon every process of a worker's group dies once its
naos-node is SIGKILLed (the lease guardian's kill on the node's death,
issue 12). One node, one worker whose group holds a grandchild that
ignores SIGTERM and keeps forking, and a process that cleared its
environment (cluster-tests/it/test_guardian.py's AGENT); K kills (env K,
default 20, at most 100), the node started again on the same directories
after each (it brings the worker back), within T seconds in all (env T,
default 300). Each figure: from the node's death (its pidfd readable) to
the last live process of the group gone (a /proc scan every ~1 ms, so a
figure is an upper bound by a scan's time). Prints p50 and max. The
node is reaped by PID, its temp dir removed.

    NAOS_BUILD_DIR=build/dev python3 bench/guardian/kill9.py
"""
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(os.environ.get("NAOS_BUILD_DIR", "build/dev"))
os.environ.setdefault("NAOS_NODE_BIN", os.path.join(build, "node/naos-node"))
os.environ.setdefault("NAOS_BIN", os.path.join(build, "cli/naos"))
sys.path.insert(0, os.path.join(here, "..", "..", "cluster-tests", "it"))

from harness import Node, wait_until  # noqa: E402
from test_guardian import (group_members, kill9_and_measure,  # noqa: E402
                           kill_followed, worker_group, proc_starttime)


def wait_worker(n, d):
    """The worker brought back after a restart: its pids, once written."""
    wait_until(lambda: os.path.exists(os.path.join(d, "ready")), 10,
               msg="the worker's processes started")
    pids = []
    for f in ("ready", "forker.pid", "clean.pid"):
        with open(os.path.join(d, f)) as fh:
            pids.append(int(fh.read()))
    return pids[0], [(p, proc_starttime(p)) for p in pids]


def main():
    k = min(int(os.environ.get("K", "20")), 100)
    budget = float(os.environ.get("T", "300"))
    end = time.monotonic() + budget
    figures, failures = [], []
    with Node(name="bench-kill9") as n:
        d = n.path("flock")
        wpid, followed = worker_group(n, "flock", forks=2000)
        for i in range(k):
            if time.monotonic() > end:
                print("stopped after %d kills: %.0f s budget spent" %
                      (i, budget))
                break
            if i > 0:
                for f in ("ready", "forker.pid", "clean.pid"):
                    os.unlink(os.path.join(d, f))
                n.start_node()
                wpid, followed = wait_worker(n, d)
            try:
                wait_until(lambda: len(group_members(wpid)) >= 4, 5,
                           msg="the group's forker at work")
                took, left = kill9_and_measure(n, wpid, followed)
            finally:
                kill_followed(wpid, followed)
            if left:
                failures.append((i, left))
            figures.append(took * 1e3)
            print("kill %2d: group gone %.1f ms after the node's death%s" %
                  (i + 1, took * 1e3, " (LEFT: %r)" % left if left else ""))
    if not figures:
        return 1
    s = sorted(figures)
    print("%d kills: p50 %.1f ms, max %.1f ms, min %.1f ms; %d with "
          "processes left after 2 s" % (len(s), s[len(s) // 2], s[-1], s[0],
                                         len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
