# SPDX-License-Identifier: Apache-2.0
"""What a new user meets first on one node (issue 10): relative paths
resolved where `naos` runs, the project file (naos.yaml), deploy and apply
waiting for the first start and rolling a failed one back, one default
intensity, and a failed deployment staying failed across a node restart."""
import json
import os
import signal
import sys
import unittest

from harness import NOTIFY_PY, NodeTest, find_node, wait_until

# A worker that survives its first run long enough to pass deploy's wait,
# then crashes at once on every later run. $1: the file counting runs.
CRASH_LATER = r'''#!/bin/sh
echo run >> "$1"
[ -e "$1.first" ] || { : > "$1.first"; sleep 2; }
exit 3
'''


# Writes where it runs (and $MODEL) into files of its working directory.
WHERE = 'pwd > where; echo "$MODEL" > model; exec sleep 1000'

PROJECT = """agents:
  researcher:
    command: ["sh", "-c", '%s']
    env: {MODEL: small}
  tools:
    command: '%s'
    cwd: sub
    env: {MODEL: small}
""" % (WHERE, WHERE)


def mkproject(n, text=PROJECT):
    """A project directory with naos.yaml and a subdirectory sub, apart
    from the node's own directory (which is where naos-node runs)."""
    proj = n.path("proj")
    os.makedirs(os.path.join(proj, "sub"))
    with open(os.path.join(proj, "naos.yaml"), "w") as f:
        f.write(text)
    return proj


def read(path):
    with open(path) as f:
        return f.read().strip()


DEMO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", "..", "examples", "demo"))


class ReadmeQuickStart(NodeTest):

    def test_seed_commands_in_the_demo_project(self):
        # README: cd examples/demo; naos deploy researcher --supervisor
        # one-for-one --max-restarts 5; naos status
        with self.node() as n:
            r = n.naos("deploy", "researcher", "--supervisor", "one-for-one",
                       "--max-restarts", "5", "--env",
                       "NAOS_TEST_MARKER=" + n.marker, cwd=DEMO, timeout=40)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.out.splitlines()[0], "deployed researcher", r)
            r = n.naos("status", cwd=DEMO)
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher", r.out)
            w = n.workers("researcher")[0]
            self.assertEqual((w["state"], w["restarts"]), ("running", 0), w)
            # the demo tree, applied from elsewhere, runs in its directory
            r = n.naos("apply", "-f", os.path.join(DEMO, "tree.yaml"),
                       "--no-wait")
            self.assertEqual(r.code, 0, r)
            n.wait_worker("demo/researcher",
                          lambda w: w["state"] == "running", 20, "running")


class RelativePaths(NodeTest):

    def test_deploy_runs_where_naos_runs(self):
        with self.node() as n:
            proj = mkproject(n)
            with open(os.path.join(proj, "agent.sh"), "w") as f:
                f.write("#!/bin/sh\n" + WHERE + "\n")
            os.chmod(os.path.join(proj, "agent.sh"), 0o755)
            mark = "NAOS_TEST_MARKER=" + n.marker
            # a relative program, found in the caller's directory
            r = n.naos("deploy", "a", "--env", mark, "--", "./agent.sh",
                       cwd=proj)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(read(os.path.join(proj, "where")), proj)
            # a relative --cwd is the caller's sub, not the node's
            r = n.naos("deploy", "b", "--cwd", "sub", "--env", mark, "--",
                       "sh", "-c", WHERE, cwd=proj)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(read(os.path.join(proj, "sub", "where")),
                             os.path.join(proj, "sub"))
            self.assertEqual(n.workers("a")[0]["restarts"], 0)

    def test_apply_runs_in_the_tree_files_directory(self):
        with self.node() as n:
            proj = mkproject(n)
            tree = os.path.join(proj, "tree.yaml")
            with open(tree, "w") as f:
                f.write("name: t\n"
                        "children:\n"
                        "  - {id: top, command: '%s',\n"
                        "     env: {NAOS_TEST_MARKER: %s}}\n"
                        "  - {id: low, command: '%s', cwd: sub,\n"
                        "     env: {NAOS_TEST_MARKER: %s}}\n"
                        % (WHERE, n.marker, WHERE, n.marker))
            r = n.naos("apply", "-f", "proj/tree.yaml")  # from elsewhere
            self.assertEqual(r.code, 0, r)
            self.assertEqual(read(os.path.join(proj, "where")), proj)
            self.assertEqual(read(os.path.join(proj, "sub", "where")),
                             os.path.join(proj, "sub"))

    def test_missing_directory_says_so_and_names_the_node(self):
        with self.node() as n:
            r = n.naos("deploy", "y", "--cwd", "/nonexistent", "--", "sleep",
                       "1")
            self.assertEqual(r.code, 100, r)
            self.assertIn("working directory /nonexistent does not exist on "
                          "node test-node", r.err)
            self.assertEqual(n.naos("status", "y").code, 100)


class ProjectFile(NodeTest):

    def test_readme_seed_commands_work_verbatim(self):
        with self.node() as n:
            proj = mkproject(n)
            mark = "NAOS_TEST_MARKER=" + n.marker
            r = n.naos("deploy", "researcher", "--supervisor", "one-for-one",
                       "--max-restarts", "5", "--env", mark, cwd=proj)
            self.assertEqual(r.code, 0, r)
            self.assertIn("deployed researcher", r.out)
            r = n.naos("status", cwd=proj)
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher", r.out)
            self.assertEqual(read(os.path.join(proj, "model")), "small")
            self.assertEqual(read(os.path.join(proj, "where")), proj)
            # the command line overrides the file; the file's relative cwd
            # is the file's; -f from another directory
            r = n.naos("deploy", "tools", "-f", "proj/naos.yaml",
                       "--max-restarts", "2", "--env", "MODEL=big", "--env",
                       mark)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(read(os.path.join(proj, "sub", "model")), "big")
            self.assertEqual(n.dep("tools")["tree"]["max_restarts"], 2)

    def test_without_a_definition_the_error_shows_the_example(self):
        with self.node() as n:
            r = n.naos("deploy", "researcher", "--max-restarts", "5")
            self.assertEqual(r.code, 100, r)
            self.assertIn("no naos.yaml", r.err)
            self.assertIn("agents:\n    researcher:\n      command:", r.err)
            proj = mkproject(n)
            r = n.naos("deploy", "nobody", cwd=proj)
            self.assertEqual(r.code, 100, r)
            self.assertIn("defines no agent nobody (it defines researcher, "
                          "tools)", r.err)
            # errors point into the file; size is bounded
            with open(os.path.join(proj, "naos.yaml"), "w") as f:
                f.write("agents:\n  researcher:\n    command: [a]\n"
                        "    colour: red\n")
            r = n.naos("deploy", "researcher", cwd=proj)
            self.assertEqual(r.code, 100, r)
            self.assertIn("naos.yaml:4:5: colour: unknown key", r.err)
            with open(os.path.join(proj, "naos.yaml"), "w") as f:
                f.write("#" * (2 << 20))
            r = n.naos("deploy", "researcher", cwd=proj)
            self.assertEqual(r.code, 100, r)
            self.assertIn("larger than", r.err)
            self.assertEqual(n.status()["deployments"], [])


class FirstStart(NodeTest):

    def assert_rolled_back(self, n, r, name, *needles):
        self.assertEqual(r.code, 100, r)
        self.assertNotIn("deployed", r.out)
        for s in needles:
            self.assertIn(s, r.err)
        self.assertEqual(n.naos("status", name).code, 100, "left behind")

    def test_failed_first_starts_are_told_apart_and_rolled_back(self):
        with self.node() as n:
            r = n.naos("deploy", "x", "--", "/nonexistent/prog")
            self.assert_rolled_back(n, r, "x", "x/x did not start",
                                    "program /nonexistent/prog not found "
                                    "on node test-node")
            r = n.naos("deploy", "p", "--", "python9", "agent.py")
            self.assert_rolled_back(n, r, "p", "program python9 not found "
                                    "in the PATH of node test-node")
            # the interpreter is there, the script is not
            r = n.naos("deploy", "s", "--", sys.executable, "missing.py")
            self.assert_rolled_back(n, r, "s", "ended at once (exit:2)",
                                    "its script missing.py is not in",
                                    "can't open file")
            # the script is there, its interpreter is not
            n.write("old.py", "#!/nonexistent/python9\nprint(1)\n")
            r = n.naos("deploy", "i", "--", "./old.py")
            self.assert_rolled_back(n, r, "i", "its interpreter "
                                    "/nonexistent/python9 (its #! line) was "
                                    "not found")
            # a tree: the good worker started first is stopped and removed
            # too (the harness checks that no process is left)
            r = n.naos("apply", "-f", n.write("t.yaml", (
                "name: t\nchildren:\n"
                "  - {id: good, command: [sleep, '1000'],\n"
                "     env: {NAOS_TEST_MARKER: %s}}\n"
                "  - {id: bad, command: [/nonexistent/prog]}\n") % n.marker,
                0o644))
            self.assert_rolled_back(n, r, "t", "t/bad did not start")
            self.assertEqual(n.status()["deployments"], [])

    def test_success_waits_and_no_wait_does_not(self):
        with self.node() as n:
            mark = "NAOS_TEST_MARKER=" + n.marker
            r = n.naos("deploy", "ok", "--env", mark, "--", "sleep", "1000")
            self.assertEqual((r.code, r.out.splitlines()[0]), (0, "deployed ok"), r)
            w = n.workers("ok")[0]
            self.assertEqual((w["state"], w["restarts"]), ("running", 0))
            self.assertGreaterEqual(w["uptime_ms"], 1000)
            # --no-wait: accepted at once, as before
            r = n.naos("deploy", "later", "--no-wait", "--",
                       "/nonexistent/prog")
            self.assertEqual(r.code, 0, r)
            n.wait_state("later", "failed")

    def test_long_wait_shows_progress(self):
        with self.node() as n:
            agent = n.write("slow.py", NOTIFY_PY +
                            "import time\ntime.sleep(4)\nnotify('READY=1')\n"
                            "time.sleep(1000)\n")
            r = n.naos("deploy", "slow", "--ready", "notify", "--env",
                       "NAOS_TEST_MARKER=" + n.marker, "--",
                       sys.executable, agent, timeout=30)
            self.assertEqual(r.code, 0, r)
            self.assertIn("slow: 0 of 1 workers started, waiting", r.err)
            self.assertEqual(n.workers("slow")[0]["state"], "running")


# READY=1 after $1 seconds, then runs on.
SLOW_READY = NOTIFY_PY + """import sys, time
time.sleep(float(sys.argv[1]))
notify('READY=1')
time.sleep(1000)
"""


class LaterEnds(NodeTest):
    """A worker that passed the settle time and ends later, while a slower
    sibling is still starting, is the supervisor's business: the wait goes
    on for the sibling and the deployment stays."""

    def tree(self, n, name, strategy, children, max_restarts=5):
        agent = n.write("slow.py", SLOW_READY)
        text = ("name: %s\nsupervisor: {strategy: %s, max_restarts: %d, "
                "window: 60s}\nchildren:\n" % (name, strategy, max_restarts))
        for cid, cmd, extra in children:
            if cmd in ("slow", "slower"):  # READY=1 after 5 s, 10 s
                cmd = [sys.executable, agent, "5" if cmd == "slow" else "10"]
            text += ("  - {id: %s, command: %s, env: {NAOS_TEST_MARKER: %s}%s}"
                     "\n" % (cid, json.dumps(cmd), n.marker, extra))
        return n.write(name + ".yaml", text, 0o644)

    def test_a_worker_ending_after_it_started_is_not_a_failed_start(self):
        with self.node() as n:
            f = self.tree(n, "late", "one-for-one", [
                ("a", ["sh", "-c", "sleep 2; exit 1"], ""),
                ("b", "slow", ", ready: notify")])
            r = n.naos("apply", "-f", f, timeout=60)
            self.assertEqual(r.code, 0, r)
            self.assertNotIn("did not start", r.err)
            self.assertEqual(n.node_at("late/b")["state"], "running")
            self.assertGreaterEqual(n.node_at("late/a")["restarts"], 1)

    def test_siblings_stopped_with_a_crash_are_not_blamed(self):
        # one-for-all: a's crash stops c (started) and b (starting) with
        # reason shutdown; neither is a failed first start, and a ends
        # only once (then runs on)
        with self.node() as n:
            once = n.path("once")
            f = self.tree(n, "all", "one-for-all", [
                ("c", ["sleep", "1000"], ""),
                ("a", ["sh", "-c", '[ -e "$0" ] && exec sleep 1000; '
                       ': > "$0"; sleep 2; exit 1', once], ""),
                ("b", "slow", ", ready: notify")])
            r = n.naos("apply", "-f", f, timeout=60)
            self.assertEqual(r.code, 0, r)
            self.assertNotIn("did not start", r.err)
            for w in ("c", "a", "b"):
                st = n.node_at("all/" + w)
                self.assertEqual((st["state"], st["restarts"]),
                                 ("running", 1), st)
            self.assertEqual(n.node_at("all/c")["last_exit"]["reason"],
                             "shutdown")

    def test_a_deployment_that_fails_after_starting_stays_failed(self):
        # a started, then crashes past its intensity while b is starting:
        # not "did not start", and not removed
        with self.node() as n:
            f = self.tree(n, "gave", "one-for-one", [
                ("a", ["sh", "-c", "sleep 2; exit 1"], ""),
                ("b", "slower", ", ready: notify")], max_restarts=0)
            r = n.naos("apply", "-f", f, timeout=60)
            self.assertEqual(r.code, 100, r)
            self.assertNotIn("did not start", r.err)
            self.assertIn("gave failed after gave/a started", r.err)
            self.assertIn("stays deployed as failed", r.err)
            self.assertEqual(n.dep("gave")["state"], "failed")


class JsonErrors(NodeTest):
    """With --json every message of deploy and apply is a JSON object."""

    def objects(self, r):
        objs = []
        for line in r.err.splitlines():
            o = json.loads(line)  # raises on a plain-text line
            self.assertIsInstance(o, dict, line)
            objs.append(o)
        return objs

    def test_failed_first_start_and_missing_agent(self):
        with self.node() as n:
            r = n.naos("deploy", "x", "--", "/nonexistent/prog", json=True)
            self.assertEqual(r.code, 100, r)
            objs = self.objects(r)
            self.assertEqual(objs[0]["code"], 100, objs)
            self.assertIn("x/x did not start: program /nonexistent/prog not "
                          "found", objs[0]["error"])
            self.assertIn("x removed again", objs[-1]["info"])
            # the last output is a field of the error
            r = n.naos("deploy", "s", "--", sys.executable, "missing.py",
                       json=True)
            self.assertEqual(r.code, 100, r)
            err = self.objects(r)[0]
            self.assertIn("ended at once (exit:2)", err["error"])
            self.assertTrue(any("can't open file" in l
                                for l in err["output"]), err)
            # no agent defined: one message, not the text example
            r = n.naos("deploy", "researcher", json=True)
            self.assertEqual(r.code, 100, r)
            objs = self.objects(r)
            self.assertEqual(len(objs), 1, r)
            self.assertIn("no naos.yaml", objs[0]["error"])
            self.assertIn("naos deploy researcher [OPTIONS] -- CMD",
                          objs[0]["error"])
            self.assertEqual(n.status()["deployments"], [])

    def test_progress_is_json(self):
        with self.node() as n:
            agent = n.write("slow.py", SLOW_READY)
            r = n.naos("deploy", "slow", "--ready", "notify", "--env",
                       "NAOS_TEST_MARKER=" + n.marker, "--",
                       sys.executable, agent, "4", json=True, timeout=30)
            self.assertEqual(r.code, 0, r)
            objs = self.objects(r)
            self.assertIn("slow: 0 of 1 workers started, waiting",
                          objs[0]["info"])


class LastOutput(NodeTest):

    def test_a_line_over_1023_bytes_keeps_every_byte(self):
        with self.node() as n:
            prog = "print('a' * 1023 + 'bcdefg'); raise SystemExit(1)"
            r = n.naos("deploy", "long", "--", sys.executable, "-c", prog)
            self.assertEqual(r.code, 100, r)
            self.assertIn("  | " + "a" * 1023 + "\n  | bcdefg\n", r.err)


class DefaultIntensity(NodeTest):

    def test_tree_file_and_deploy_share_5_in_300s(self):
        with self.node() as n:
            n.apply("name: tree\n"
                    "children:\n"
                    "  - {id: a, command: [sleep, '1000']}\n"
                    "  - id: grp\n"
                    "    children: [{id: b, command: [sleep, '1000']}]\n")
            n.deploy("flags", ["sleep", "1000"])
            tree = n.dep("tree")["tree"]
            grp = find_node(tree, "tree/grp")
            flags = n.dep("flags")["tree"]
            for sup in (tree, grp, flags):
                self.assertEqual((sup["max_restarts"], sup["window_s"]),
                                 (5, 300), sup["path"])
            # documented once, with the same numbers, in both help texts
            for cmd in ("deploy", "apply"):
                out = n.ok(cmd, "--help").out
                self.assertIn("5 restarts in 300s", " ".join(out.split()),
                              cmd)


class FailedStaysFailed(NodeTest):

    def test_failed_deployment_is_not_restarted_by_a_node_restart(self):
        with self.node() as n:
            agent = n.write("crash.sh", CRASH_LATER)
            runs = n.path("runs")
            n.deploy("storm", [agent, runs], "--max-restarts", "2",
                     "--window", "60s")
            d = n.wait_state("storm", "failed", timeout=15)
            self.assertIn("max restart intensity", d["failure"])
            self.assertEqual(len(n.lines("runs")), 3)  # 1 + 2 restarts

            for sig in (signal.SIGTERM, signal.SIGKILL):
                # events are kept across node restarts: look past this one
                last = n.events()[-1]["seq"]
                n.stop_node(sig)
                n.start_node()
                # restored before the node answers: failed, nothing started
                d = n.dep("storm")
                self.assertEqual(d["state"], "failed", d)
                self.assertIn("max restart intensity", d["failure"])
                since = n.ok("events", "--since", last, json=True).data or []
                since = since if isinstance(since, list) else [since]
                self.assertEqual([e for e in since if e["kind"] == "start"],
                                 [])
                self.assertEqual(len(n.lines("runs")), 3)

            # the operator's start clears it: it runs (and crashes) again
            n.ok("start", "storm")
            wait_until(lambda: len(n.lines("runs")) >= 4, 10,
                       msg="a run after naos start")


if __name__ == "__main__":
    unittest.main()
