# SPDX-License-Identifier: Apache-2.0
"""The `naos` CLI end to end against a real naos-node."""
import json
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import NAOS_BIN, NodeTest, pid_gone, wait_until

SUBCOMMANDS = ["deploy", "apply", "status", "stop", "start", "restart", "rm",
               "events", "logs", "ping"]

NODE_KEYS = {"id", "path", "type", "state", "pid", "restarts", "last_exit",
             "status_text", "children"}
SUP_KEYS = {"strategy", "max_restarts", "window_s", "restarts_in_window"}


class Cli(NodeTest):

    def test_lifecycle_and_status(self):
        with self.node() as n:
            n.deploy("web", ["sleep", "1000"], "--max-restarts", "4",
                     "--window", "30s")
            pid1 = n.wait_running_pid("web/web")
            self.assertTrue(n.ok("ping").out.strip())

            # JSON shape
            st = n.status()
            self.assertEqual(st["node"], "test-node")
            self.assertEqual(len(st["deployments"]), 1)
            d = st["deployments"][0]
            self.assertEqual((d["name"], d["state"]), ("web", "running"))
            top = d["tree"]
            self.assertLessEqual(NODE_KEYS | SUP_KEYS, set(top), top)
            self.assertEqual(top["type"], "supervisor")
            self.assertEqual((top["id"], top["path"]), ("web", "web"))
            self.assertIsNone(top["pid"])
            self.assertEqual((top["strategy"], top["max_restarts"],
                              top["window_s"], top["restarts_in_window"]),
                             ("one-for-one", 4, 30, 0))
            self.assertEqual(len(top["children"]), 1)
            w = top["children"][0]
            self.assertLessEqual(NODE_KEYS, set(w), w)
            self.assertEqual((w["id"], w["path"], w["type"], w["state"],
                              w["pid"], w["restarts"], w["last_exit"],
                              w["status_text"], w["children"]),
                             ("web", "web/web", "worker", "running", pid1, 0,
                              None, None, []))
            self.assertTrue(os.path.exists("/proc/%d" % pid1))
            # status NAME narrows to one deployment
            one = n.status("web")["deployments"]
            self.assertEqual([x["name"] for x in one], ["web"])
            self.assertEqual(one[0]["tree"]["children"][0]["pid"], pid1)

            # human output: an indented tree
            out = n.ok("status").out
            lines = out.splitlines()
            self.assertRegex(lines[0], r"^web\s+running\s+one-for-one\s+0/4")
            self.assertRegex(lines[1], r"^\S+\s*web\s+running\s+pid %d\b"
                             % pid1)

            # stop
            self.assertEqual(n.naos("stop", "web").code, 0)
            d = n.wait_state("web", "stopped")
            self.assertIsNone(d["tree"]["children"][0]["pid"])
            self.assertEqual(d["tree"]["children"][0]["state"], "stopped")
            wait_until(lambda: pid_gone(pid1), 3, msg="worker gone")
            # start
            self.assertEqual(n.naos("start", "web").code, 0)
            n.wait_state("web", "running")
            pid2 = n.wait_running_pid("web/web", other_than=pid1)
            # restart
            self.assertEqual(n.naos("restart", "web").code, 0)
            pid3 = n.wait_running_pid("web/web", other_than=pid2)
            wait_until(lambda: pid_gone(pid2), 3, msg="old worker gone")
            n.wait_state("web", "running")
            # none of these counted toward intensity
            d = n.dep("web")
            self.assertEqual(d["tree"]["restarts_in_window"], 0)
            self.assertEqual(d["tree"]["children"][0]["restarts"], 0)
            kinds = [e["kind"] for e in n.events(path="web/web")]
            self.assertNotIn("restart", kinds)
            # rm
            self.assertEqual(n.naos("rm", "web").code, 0)
            wait_until(lambda: n.dep("web") is None, 5,
                       msg="web removed from status")
            wait_until(lambda: pid_gone(pid3), 3, msg="worker gone")
            self.assertEqual(n.status()["deployments"], [])
            self.assertIn("no deployments", n.ok("status").out)
            ev = n.events()
            for kind in ("deploy", "start", "stop", "remove"):
                self.assertIn(kind, [e["kind"] for e in ev], ev)
            for e in ev:
                self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            seqs = [e["seq"] for e in ev]
            self.assertEqual(seqs, sorted(set(seqs)))
            # human events
            self.assertRegex(n.ok("events").out, r"(?m)^\d+  \S+Z\s+deploy\s+web$")

    def test_errors(self):
        with self.node() as n:
            for args in (["stop", "nosuch"], ["start", "nosuch"],
                         ["restart", "nosuch"], ["rm", "nosuch"],
                         ["status", "nosuch"], ["logs", "nosuch"]):
                r = n.naos(*args)
                self.assertEqual(r.code, 100, r)
                self.assertIn("nosuch", r.err, r)
                self.assertEqual(r.out, "", r)

            # invalid YAML: refused whole, FILE:LINE:COL named
            bad = n.write("bad.yaml",
                          "name: broken\n"
                          "supervisor: {strategy: one-for-one}\n"
                          "children:\n"
                          "  - id: x\n"
                          "    command: [\"sleep\", \"1\"]\n"
                          "    restrat: permanent\n", 0o644)
            r = n.naos("apply", "-f", bad)
            self.assertEqual(r.code, 100, r)
            self.assertRegex(r.err, re.escape(bad) + r":6:\d+", r)
            self.assertIn("restrat", r.err)
            self.assertIsNone(n.dep("broken"))
            # not YAML at all
            worse = n.write("worse.yaml", "name: [unclosed\n", 0o644)
            r = n.naos("apply", "-f", worse)
            self.assertEqual(r.code, 100, r)
            self.assertRegex(r.err, re.escape(worse) + r":\d+:\d+", r)
            # a semantic error deep in the tree: nothing half-applied
            half = n.write("half.yaml",
                           "name: half\n"
                           "supervisor: {strategy: one-for-one}\n"
                           "children:\n"
                           "  - {id: ok, command: [\"sleep\", \"1000\"]}\n"
                           "  - id: sub\n"
                           "    supervisor: {strategy: sideways}\n"
                           "    children:\n"
                           "      - {id: w, command: [\"sleep\", \"1\"]}\n",
                           0o644)
            r = n.naos("apply", "-f", half)
            self.assertEqual(r.code, 100, r)
            self.assertRegex(r.err, re.escape(half) + r":6:\d+", r)
            self.assertIsNone(n.dep("half"))
            self.assertEqual(n.events("start"), [])

            # deploy of an existing name is refused
            n.deploy("dup", ["sleep", "1000"])
            pid = n.wait_running_pid("dup/dup")
            r = n.naos("deploy", "dup", "--", "sleep", "1")
            self.assertEqual(r.code, 100, r)
            self.assertIn("dup", r.err)
            self.assertIn("already exists", r.err)
            self.assertEqual(n.node_at("dup/dup")["pid"], pid)
            r = n.naos("apply", "-f", n.write(
                "dup.yaml", "name: dup\nchildren:\n"
                "  - {id: other, command: [\"sleep\", \"1\"]}\n", 0o644))
            self.assertEqual(r.code, 100, r)
            self.assertEqual(n.node_at("dup/dup")["pid"], pid)

            # migration limits: out of bounds refused naming the flag,
            # nothing sent; in bounds accepted (kept with the deployment,
            # not shown by status)
            for args, msg in ((["--max-migrations", "101"],
                               "--max-migrations: \"101\" is not a whole "
                               "number from 0 to 100"),
                              (["--migration-window", "999ms"],
                               "--migration-window: \"999ms\" is not a "
                               "duration from 1s to 7 days")):
                r = n.naos("deploy", "mig", *args, "--", "sleep", "1000")
                self.assertEqual(r.code, 100, r)
                self.assertIn(msg, r.err, r)
                self.assertIsNone(n.dep("mig"))
            n.deploy("mig", ["sleep", "1000"], "--max-migrations", "2",
                     "--migration-window", "10m")
            n.wait_running_pid("mig/mig")

            # usage errors
            for args in (["deploy", "x"], ["deploy", "x", "--"],
                         ["deploy", "x", "--supervisor", "nope", "--", "true"],
                         ["frobnicate"], ["logs"], ["apply"]):
                r = n.naos(*args)
                self.assertEqual(r.code, 100, r)
                self.assertTrue(r.err.strip(), r)

    def test_node_not_running(self):
        d = tempfile.mkdtemp(prefix="nit", dir="/tmp")
        try:
            env = dict(os.environ, NO_COLOR="1")
            for args in (["ping"], ["status"], ["status", "--json"],
                         ["deploy", "x", "--", "true"], ["stop", "x"],
                         ["events"], ["logs", "x"]):
                p = subprocess.run([NAOS_BIN, "--run", d] + args,
                                   capture_output=True, text=True,
                                   timeout=20, env=env)
                self.assertEqual(p.returncode, 111, (args, p.stderr))
                self.assertTrue(p.stderr.strip(), args)
        finally:
            os.rmdir(d)

    def test_help_of_every_subcommand(self):
        env = dict(os.environ, NO_COLOR="1")
        for args in [["--help"], ["help"]] + [[s, "--help"]
                                              for s in SUBCOMMANDS] + \
                [["help", s] for s in SUBCOMMANDS]:
            p = subprocess.run([NAOS_BIN] + args, capture_output=True,
                               text=True, timeout=10, env=env,
                               cwd="/")
            self.assertEqual(p.returncode, 0, (args, p.stderr))
            self.assertIn("Usage:", p.stdout, args)
            if len(args) == 2 and args[0] in SUBCOMMANDS:
                self.assertIn(args[0], p.stdout)

    def test_simple_one_for_one_pool(self):
        with self.node() as n:
            n.deploy("pool", ["sleep", "1000"], "--replicas", "3",
                     "--max-restarts", "5", "--window", "60s")
            d = n.wait_state("pool", "running")

            def all_running():
                ws = n.workers("pool")
                return ws if len(ws) == 3 and all(
                    w["state"] == "running" and w["pid"] for w in ws) \
                    else None
            ws = wait_until(all_running, 5, msg="3 running workers")
            self.assertEqual(n.dep("pool")["tree"]["strategy"],
                             "simple-one-for-one")
            before = {w["path"]: w["pid"] for w in ws}
            self.assertEqual(len(set(before.values())), 3)
            victim = ws[1]
            os.kill(victim["pid"], signal.SIGKILL)
            nw = n.wait_worker(victim["path"], lambda w: w["restarts"] == 1
                               and w["state"] == "running" and w["pid"]
                               and w["pid"] != victim["pid"], 5,
                               "victim restarted")
            self.assertEqual(nw["last_exit"]["reason"], "signal:SIGKILL")
            ws = n.workers("pool")
            self.assertEqual(len(ws), 3, ws)
            for w in ws:
                if w["path"] == victim["path"]:
                    continue
                self.assertEqual(w["pid"], before[w["path"]], w)
                self.assertEqual(w["restarts"], 0, w)
            self.assertEqual(n.dep("pool")["tree"]["restarts_in_window"], 1)

    def test_one_for_all_restarts_everyone(self):
        with self.node() as n:
            n.deploy("all", ["sleep", "1000"], "--supervisor", "one-for-all",
                     "--replicas", "3", "--max-restarts", "5",
                     "--window", "60s")

            def all_running(exclude=()):
                ws = n.workers("all")
                ok = len(ws) == 3 and all(
                    w["state"] == "running" and w["pid"] and
                    w["pid"] not in exclude for w in ws)
                return ws if ok else None
            ws = wait_until(all_running, 5, msg="3 running workers")
            self.assertEqual([w["id"] for w in ws],
                             ["all-1", "all-2", "all-3"])
            old = [w["pid"] for w in ws]
            os.kill(old[1], signal.SIGKILL)
            ws = wait_until(lambda: all_running(old), 5,
                            msg="every worker restarted with a new pid")
            for pid in old:
                wait_until(lambda: pid_gone(pid), 3, msg="old %d gone" % pid)
            d = n.dep("all")
            self.assertEqual(d["state"], "running")
            self.assertEqual(d["tree"]["strategy"], "one-for-all")
            self.assertEqual(len(n.events("restart")), 1, n.events())
            self.assertEqual(d["tree"]["restarts_in_window"], 1, d)
            self.assertEqual(ws[1]["last_exit"]["reason"], "signal:SIGKILL")

    def test_missing_program_fails_with_spawn_failed(self):
        with self.node() as n:
            n.deploy("ghost", ["/nonexistent/program"], "--max-restarts", "2",
                     "--window", "60s")
            d = n.wait_state("ghost", "failed")
            w = d["tree"]["children"][0]
            self.assertIsNone(w["pid"])
            self.assertTrue(w["last_exit"], w)
            self.assertTrue(w["last_exit"]["reason"].startswith(
                "spawn-failed"), w)
            self.assertIn("ENOENT", w["last_exit"]["reason"])
            self.assertIn("spawn-failed", d.get("failure") or "", d)
            self.assertIn("spawn-failed", n.ok("status").out)

    def test_operator_commands_do_not_count_toward_intensity(self):
        with self.node() as n:
            n.deploy("calm", ["sleep", "1000"], "--max-restarts", "0",
                     "--window", "60s")
            pid = n.wait_running_pid("calm/calm")
            for _ in range(3):
                self.assertEqual(n.naos("restart", "calm").code, 0)
                pid = n.wait_running_pid("calm/calm", other_than=pid)
            self.assertEqual(n.naos("stop", "calm").code, 0)
            n.wait_state("calm", "stopped")
            self.assertEqual(n.naos("start", "calm").code, 0)
            pid = n.wait_running_pid("calm/calm", other_than=pid)
            d = n.wait_state("calm", "running")
            self.assertEqual(d["tree"]["restarts_in_window"], 0)
            self.assertEqual(d["tree"]["children"][0]["restarts"], 0)
            self.assertEqual(n.events("escalate"), [])
            # and a real crash now is the first (fatal with max 0)
            os.kill(pid, signal.SIGKILL)
            d = n.wait_state("calm", "failed")

    def test_start_after_failure_resets_intensity(self):
        with self.node() as n:
            flag = n.path("crash.flag")
            agent = n.write("maybe.sh", "#!/bin/sh\n[ -e %s ] && exit 1\n"
                            "exec sleep 1000\n" % flag)
            open(flag, "w").close()
            n.deploy("phoenix", [agent], "--max-restarts", "1",
                     "--window", "60s")
            n.wait_state("phoenix", "failed")
            os.unlink(flag)
            self.assertEqual(n.naos("start", "phoenix").code, 0)
            d = n.wait_state("phoenix", "running")
            n.wait_running_pid("phoenix/phoenix")
            self.assertEqual(d["tree"]["restarts_in_window"], 0, d)

    def test_nested_tree_status_and_logs(self):
        with self.node() as n:
            n.apply("name: research\n"
                    "supervisor: {strategy: rest-for-one, max_restarts: 5, "
                    "window: 300s}\n"
                    "children:\n"
                    "  - id: fetcher\n"
                    "    command: [\"sh\", \"-c\", \"echo fetching; exec sleep"
                    " 1000\"]\n"
                    "    restart: permanent\n"
                    "    shutdown: 5s\n"
                    "  - id: tools\n"
                    "    supervisor: {strategy: one-for-one, max_restarts: 3, "
                    "window: 60s}\n"
                    "    children:\n"
                    "      - {id: scraper, command: \"echo scraping; exec "
                    "sleep 1000\"}\n")
            d = n.wait_state("research", "running")
            wait_until(lambda: all(w["pid"] for w in n.workers("research")),
                       5, msg="workers running")
            d = n.dep("research")
            tools = d["tree"]["children"][1]
            self.assertEqual((tools["path"], tools["type"], tools["strategy"],
                              tools["max_restarts"], tools["window_s"]),
                             ("research/tools", "supervisor", "one-for-one",
                              3, 60))
            self.assertEqual(tools["children"][0]["path"],
                             "research/tools/scraper")
            out = n.ok("status", "research").out
            self.assertRegex(out, r"(?m)^research\s+running\s+rest-for-one")
            self.assertRegex(out, r"(?m)^\S+ tools\s+running\s+one-for-one")
            self.assertRegex(out, r"(?m)^\s+\S+ scraper\s+running\s+pid")
            wait_until(lambda: n.ok("logs", "research/tools/scraper").out ==
                       "scraping\n", 5, msg="scraper log")
            self.assertEqual(n.ok("logs", "research/fetcher").out,
                             "fetching\n")
            # a deployment with several workers is ambiguous for logs
            r = n.naos("logs", "research")
            self.assertEqual(r.code, 100, r)
            self.assertIn("research/", r.err)
            # NAOS_AGENT / NAOS_NODE
            n.apply("name: envs\nchildren:\n"
                    "  - {id: e, command: \"echo $NAOS_AGENT $NAOS_NODE; "
                    "exec sleep 1000\"}\n", "envs.yaml")
            wait_until(lambda: n.ok("logs", "envs").out ==
                       "envs/e test-node\n", 5, msg="env in log")

    def test_events_follow(self):
        with self.node() as n:
            n.deploy("before", ["sleep", "1000"])
            out_path = n.path("events.out")
            with open(out_path, "wb") as out:
                p = subprocess.Popen([NAOS_BIN, "--run", n.run, "events",
                                      "-f", "--json"], stdout=out,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=n.cli_env)
                try:
                    n.deploy("after", ["sleep", "1000"])
                    n.wait_running_pid("after/after")

                    def seen():
                        with open(out_path) as f:
                            evs = [json.loads(l) for l in f if l.strip()]
                        return evs if any(
                            e["kind"] == "start" and e["path"] ==
                            "after/after" for e in evs) else None
                    evs = wait_until(seen, 5, msg="live start event")
                    self.assertIsNone(p.poll(), "events -f exited")
                finally:
                    if p.poll() is None:
                        os.kill(p.pid, signal.SIGTERM)  # by its PID
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        os.kill(p.pid, signal.SIGKILL)
                        p.wait()
                        self.fail("naos events -f ignored SIGTERM")
            # the backlog first, then the live ones, each once, in order
            self.assertEqual([e["kind"] for e in evs[:2]], ["deploy", "start"])
            self.assertEqual(evs[0]["deployment"], "before")
            seqs = [e["seq"] for e in evs]
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
            self.assertIn(("deploy", "after"),
                          [(e["kind"], e["deployment"]) for e in evs])


if __name__ == "__main__":
    unittest.main()
