# SPDX-License-Identifier: Apache-2.0
"""Health counts and where the dashboard is (issue 10, "the first hour").

- With a failed deployment, `naos nodes --json`, GET /api/v1/nodes, /metrics
  and `naos status` give the same counts (agents running, restarting,
  failed = workers of failed deployments; deployments, deployments failed),
  and the human `naos nodes` says how many deployments failed.
- A supervisor with 200 children under a chain of nested supervisors is
  counted exactly (the tally used to stop at a 64-slot stack).
- Two real nodes (--listen, a cluster key): the other node's health, failed
  deployment included, arrives by gossip; once it is killed (dead) or has
  left, its health is marked stale (JSON and table), and it is current
  again once it is back.
- A node started without --http while the default 127.0.0.1:4200 is taken
  says on stderr that it has no dashboard and which flag to give, and
  `naos ping` and `naos nodes` keep saying so; a node with a dashboard
  names its URL there.

Every node listens on free ports with its own temp dirs and is reaped by
PID."""
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import promtext

from harness import (NAOS_BIN, NODE_BIN, Node, NodeTest, wait_until,
                     workers)

LISTEN = ["--listen", "tcp://127.0.0.1:0", "--profile", "lan"]
KEYS = ("agents_running", "agents_restarting", "agents_failed",
        "deployments", "deployments_failed")


def keygen(d):
    key = os.path.join(d, "cluster.key")
    p = subprocess.run([NAOS_BIN, "keygen", key], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p
    return key


def from_status(st):
    """The counts as `naos status --json` shows them."""
    c = dict.fromkeys(KEYS, 0)
    for d in st["deployments"]:
        c["deployments"] += 1
        failed = d["state"] == "failed"
        c["deployments_failed"] += failed
        for w in workers(d["tree"]):
            if failed:
                c["agents_failed"] += 1
            elif w["state"] == "running":
                c["agents_running"] += 1
            elif w["state"] == "restarting":
                c["agents_restarting"] += 1
    return c


def from_metrics(node):
    """The counts as /metrics shows them: naos_deployments{state} and
    naos_children{deployment,type,state}; a deployment is failed when its
    top supervisor is (only tops fail)."""
    code, _, body = node.http("GET", "/metrics")
    assert code == 200, code
    fams = promtext.parse(body.decode(), prefix="naos_")
    c = dict.fromkeys(KEYS, 0)
    for _, lab, v in fams["naos_deployments"]["samples"]:
        c["deployments"] += int(v)
        if lab["state"] == "failed":
            c["deployments_failed"] += int(v)
    kids = fams["naos_children"]["samples"]
    failed_deps = {lab["deployment"] for _, lab, v in kids
                   if lab["type"] == "supervisor" and
                   lab["state"] == "failed" and v > 0}
    for _, lab, v in kids:
        if lab["type"] != "worker":
            continue
        if lab["deployment"] in failed_deps:
            c["agents_failed"] += int(v)
        elif lab["state"] == "running":
            c["agents_running"] += int(v)
        elif lab["state"] == "restarting":
            c["agents_restarting"] += int(v)
    return c


def own_health(doc):
    """The answering node's health counts from a nodes document."""
    me = doc["nodes"][0]
    assert me["local"], me
    return {k: me["health"][k] for k in KEYS}


class Health(NodeTest):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nhl", dir="/tmp")
        self.key = keygen(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_failed_deployment_counts_agree(self):
        with self.node(extra_args=LISTEN + ["--key", self.key]) as n:
            n.deploy("batch", ["sh", "-c", "sleep 0.2; exit 3"],
                     "--max-restarts", "1", "--window", "60s")
            n.deploy("web", ["sleep", "100000"])
            n.apply("""
name: lab
supervisor: {strategy: one-for-one}
children:
  - id: a
    command: ["sleep", "100000"]
  - id: b
    command: ["sleep", "100000"]
""")
            n.wait_state("batch", "failed", timeout=20)
            n.wait_state("web", "running")
            n.wait_state("lab", "running")
            for p in ("web/web", "lab/a", "lab/b"):
                n.wait_running_pid(p)
            want = {"agents_running": 3, "agents_restarting": 0,
                    "agents_failed": 1, "deployments": 3,
                    "deployments_failed": 1}
            self.assertEqual(from_status(n.status()), want)
            self.assertEqual(own_health(n.ok("nodes", json=True).data), want)
            self.assertEqual(own_health(n.http_json("/api/v1/nodes")), want)
            self.assertEqual(from_metrics(n), want)
            me = n.ok("nodes", json=True).data["nodes"][0]
            self.assertFalse(me["stale"])
            self.assertIsNone(me["stale_ms"])
            out = n.ok("nodes").out
            self.assertIn("3 running, 0 restarting, 1 failed; "
                          "1/3 deployments failed", out)
            self.assertNotIn("stale", out)

    def test_200_children_counted_exactly(self):
        # a chain of 8 nested supervisors, one worker at each level, and
        # 200 workers under the deepest: 208 workers
        depth, wide = 8, 200
        lines = ["name: wide", "supervisor: {strategy: one-for-one}",
                 "children:"]
        ind = ""
        for i in range(depth):
            lines += [ind + "  - id: w%d" % i,
                      ind + '    command: ["sleep", "100000"]',
                      ind + "  - id: s%d" % i,
                      ind + "    supervisor: {strategy: one-for-one}",
                      ind + "    children:"]
            ind += "    "
        for j in range(wide):
            lines += [ind + "  - id: x%d" % j,
                      ind + '    command: ["sleep", "100000"]']
        total = depth + wide
        with self.node() as n:
            n.apply("\n".join(lines) + "\n")

            def all_running():
                return from_status(n.status())["agents_running"] == total
            wait_until(all_running, 90, interval=0.5,
                       msg="%d workers running" % total)
            want = {"agents_running": total, "agents_restarting": 0,
                    "agents_failed": 0, "deployments": 1,
                    "deployments_failed": 0}
            self.assertEqual(own_health(n.ok("nodes", json=True).data), want)
            self.assertEqual(own_health(n.http_json("/api/v1/nodes")), want)
            self.assertEqual(from_metrics(n), want)

    def test_dead_and_left_members_are_stale(self):
        key = ["--key", self.key]
        with Node(self, name="ha", extra_args=LISTEN + key) as a:
            b = Node(self, name="hb",
                     extra_args=LISTEN + key + ["--seeds", a.gossip_addr()])
            with b:
                def views(want_state):
                    def ok():
                        ma, mb = a.members(), b.members()
                        return (ma.get("hb", {}).get("state") == want_state and
                                mb.get("ha", {}).get("state") == "alive")
                    return ok
                wait_until(views("alive"), 20, msg="ha and hb alive")
                b.deploy("x", ["sleep", "100000"])
                b.deploy("bad", ["sh", "-c", "sleep 0.2; exit 3"],
                         "--max-restarts", "1", "--window", "60s")
                b.wait_state("bad", "failed", timeout=20)
                b.wait_running_pid("x/x")

                # the other node's health comes by gossip, current
                def gossiped():
                    m = a.members()["hb"]
                    h = m["health"]
                    return m if h and h["agents_running"] == 1 and \
                        h["deployments_failed"] == 1 else None
                m = wait_until(gossiped, 10, msg="hb's health at ha")
                self.assertEqual(m["health"]["agents_failed"], 1)
                self.assertEqual(m["health"]["deployments"], 2)
                self.assertFalse(m["stale"])
                self.assertIsNone(m["stale_ms"])

                # kill -9: dead at ha, its health kept but stale
                b.kill9()
                wait_until(lambda: a.members()["hb"]["state"] == "dead", 15,
                           msg="hb dead at ha")
                m = a.members()["hb"]
                self.assertTrue(m["stale"], m)
                self.assertGreaterEqual(m["stale_ms"], 0)
                self.assertEqual(m["health"]["agents_running"], 1)
                # it keeps ageing
                wait_until(lambda: a.members()["hb"]["stale_ms"] >
                           m["stale_ms"], 5, msg="stale_ms to grow")
                row = [l for l in a.ok("nodes").out.splitlines()
                       if " hb " in l]
                self.assertEqual(len(row), 1)
                self.assertRegex(row[0], r"stale \(dead [0-9.]+s ago\): "
                                 r"1 running")
                api = {x["name"]: x for x in
                       a.http_json("/api/v1/nodes")["nodes"]}
                self.assertTrue(api["hb"]["stale"])
                self.assertNotIn("dashboard", api["hb"])
                # our own entry is never stale
                self.assertFalse(api["ha"]["stale"])

                # back: current again
                b.start_node()
                wait_until(lambda: a.members()["hb"]["state"] == "alive",
                           20, msg="hb alive again at ha")
                m = a.members()["hb"]
                self.assertFalse(m["stale"], m)
                self.assertIsNone(m["stale_ms"])

                # a graceful leave: left, stale
                p = subprocess.run([NODE_BIN, "leave", "--run", b.run],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p)
                b.proc.wait(timeout=15)
                b.proc = None
                b.node_log.close()
                wait_until(lambda: a.members()["hb"]["state"] == "left", 10,
                           msg="hb left at ha")
                m = a.members()["hb"]
                self.assertTrue(m["stale"], m)
                self.assertGreaterEqual(m["stale_ms"], 0)
                self.assertRegex(a.ok("nodes").out, r"stale \(left ")


class Dashboardless(NodeTest):
    """A second node on one machine: the default --http is taken."""

    def test_no_dashboard_is_said(self):
        # hold the default address, as a first naos-node would
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 4200))
            holder.listen(1)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            holder.close()
            holder = None  # someone else holds it: just as good
        d = tempfile.mkdtemp(prefix="nhd", dir="/tmp")
        run = os.path.join(d, "r")
        err_path = os.path.join(d, "stderr")
        env = dict(os.environ)
        for k in ("NAOS_RUN_DIR", "NAOS_DATA_DIR", "NOTIFY_SOCKET",
                  "NAOS_HTTP_TOKEN"):
            env.pop(k, None)
        proc = None
        try:
            with open(err_path, "wb") as err:
                proc = subprocess.Popen(
                    [NODE_BIN, "start", "--run", run, "--data",
                     os.path.join(d, "d"), "--name", "second"],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    env=env)

            def naos(*args):
                return subprocess.run([NAOS_BIN, "--run", run, *args],
                                      capture_output=True, text=True,
                                      timeout=15)

            def up():
                if proc.poll() is not None:
                    raise AssertionError("naos-node exited: %s" %
                                         open(err_path).read())
                return naos("ping").returncode == 0
            wait_until(up, 15, msg="the node to answer ping")
            if os.path.exists(os.path.join(run, "http.addr")):
                self.skipTest("127.0.0.1:4200 was freed before the node "
                              "started")
            with open(err_path) as f:
                log = f.read()
            self.assertIn("NO DASHBOARD", log)
            self.assertIn("127.0.0.1:4200", log)
            self.assertIn("--http 127.0.0.1:0", log)
            # ... and again on the last line of the start, the ready line
            ready = [l for l in log.splitlines() if " ready: " in l]
            self.assertEqual(len(ready), 1, log)
            self.assertIn("NO dashboard", ready[0])
            p = naos("ping")
            self.assertIn("NO dashboard", p.stdout)
            self.assertIn("--http 127.0.0.1:0", p.stdout)
            p = naos("nodes")
            self.assertEqual(p.returncode, 0, p)
            self.assertIn("no dashboard on this node", p.stdout)
            self.assertIn("--http 127.0.0.1:0", p.stdout)
            me = json.loads(naos("--json", "nodes").stdout)["nodes"][0]
            self.assertTrue(me["local"])
            self.assertIsNone(me["dashboard"])
            self.assertIn("127.0.0.1:4200", me["dashboard_off"])
        finally:
            if proc is not None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if holder is not None:
                holder.close()
            shutil.rmtree(d, ignore_errors=True)

    def test_dashboard_url_is_said(self):
        with self.node() as n:
            url = n.http_url() + "/supervisors"
            self.assertIn("dashboard " + url, n.ok("ping").out)
            self.assertIn("dashboard: " + url, n.ok("nodes").out)
            me = n.ok("nodes", json=True).data["nodes"][0]
            self.assertEqual(me["dashboard"], url)
            self.assertIsNone(me["dashboard_off"])
            self.assertIn("dashboard " + url, [
                l for l in n.read_node_log().splitlines()
                if " ready: " in l][0])

    def test_http_off_is_said(self):
        with self.node(http=None) as n:
            self.assertIn("no dashboard (--http off)", n.ok("ping").out)
            me = n.ok("nodes", json=True).data["nodes"][0]
            self.assertIsNone(me["dashboard"])
            self.assertIn("--http off", me["dashboard_off"])


if __name__ == "__main__":
    unittest.main()
