# SPDX-License-Identifier: Apache-2.0
"""What an operator reads (issue 10): idempotent stop/start with honest
messages, a kill after the shutdown grace named as such, `naos-node leave`
refused off-cluster, JSON errors, and `naos events` (numbered, filtered,
kept across node restarts, a cursor past the end meaning "nothing yet")."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import NODE_BIN, NodeTest, wait_until, within

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")
SWIM_H = os.path.join(HERE, "..", "..", "node", "swim", "swim.h")
CRAFTED = os.environ.get("NAOS_CRAFTED", "it_ctl_crafted")
# Tests only: the node writes events only when a reply shows them (and at
# close), never on its 250 ms timer, so a kill -9 loses exactly what no
# reply kept and the save-on-reply path is what these tests see.
NO_TIMER = {"NAOS_TESTING_EVENTS_NO_TIMER": "1"}

# A worker that ignores SIGTERM: only the SIGKILL after its grace ends it.
# It says when it ignores it (a SIGTERM before the trap would end it).
STUBBORN = ["sh", "-c", "trap '' TERM; : > \"$1\"; while :; do sleep 0.1; "
            "done", "stubborn"]


class Messages(NodeTest):

    def test_stop_stopped_and_start_running_are_done_already(self):
        with self.node() as n:
            n.deploy("researcher", ["sleep", "1000"])
            n.wait_state("researcher", "running")
            r = n.naos("start", "researcher")
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher is already running", r.out)
            n.ok("stop", "researcher")
            n.wait_state("researcher", "stopped")
            r = n.naos("stop", "researcher")
            self.assertEqual(r.code, 0, r)
            self.assertIn("researcher is already stopped", r.out)
            self.assertNotIn("cannot", r.out + r.err)

    def test_stop_says_stopping_until_the_grace_is_over(self):
        with self.node() as n:
            ready = n.path("trapped")
            n.deploy("stub", STUBBORN + [ready], "--shutdown", "2s")
            n.wait_running_pid("stub/stub")
            wait_until(lambda: os.path.exists(ready), 10,
                       msg="the worker to ignore SIGTERM")
            t0 = time.monotonic()
            r = n.ok("stop", "stub")
            # the worker ignores SIGTERM: it is still stopping
            self.assertIn("stopping stub", r.out)
            self.assertNotIn("stopped stub", r.out)
            self.assertEqual(n.dep("stub")["state"], "stopping")
            r = n.naos("stop", "stub")
            self.assertEqual(r.code, 0, r)
            self.assertIn("stub is already stopping", r.out)
            n.wait_state("stub", "stopped", timeout=10)
            self.assertGreaterEqual(time.monotonic() - t0, 1.5)
            w = n.node_at("stub/stub")
            # it said "shutdown": a kill after the grace is not one
            self.assertEqual(w["last_exit"]["reason"],
                             "killed after 2s grace", w)
            kills = n.events(kind="kill", path="stub/stub")
            self.assertEqual(len(kills), 1, kills)
            self.assertEqual(kills[0]["reason"], "killed after 2s grace")

    def test_restart_during_a_restart_is_pending_then_carried_out(self):
        # The first restart's stop waits out the worker's grace; a second
        # restart meanwhile is owed (not "try again", not lost): it is
        # carried out once that stop ends, and only once.
        with self.node() as n:
            ready = n.path("trapped")
            n.deploy("stub", STUBBORN + [ready], "--shutdown", "2s")
            n.wait_running_pid("stub/stub")
            wait_until(lambda: os.path.exists(ready), 10,
                       msg="the worker to ignore SIGTERM")
            r = n.ok("restart", "stub")
            self.assertIn("restarted stub", r.out)
            r = n.naos("restart", "stub")
            self.assertEqual(r.code, 0, r)
            self.assertIn("restart of stub is pending", r.out)
            self.assertNotIn("restarted stub", r.out)

            def starts():
                return len(n.events(kind="start", path="stub/stub"))
            # the deploy's start, the first restart's, the second's
            wait_until(lambda: starts() >= 3, within(15),
                       msg="the pending restart to be carried out")
            n.wait_state("stub", "running", timeout=within(10))
            n.barrier()
            self.assertEqual(starts(), 3)

    def test_start_during_a_stop_is_pending_then_carried_out(self):
        # A start while the stop's grace runs is owed (not "try again",
        # not lost): carried out once that stop ends, and only once; a
        # stop after a pending start cancels it (the last command wins).
        with self.node() as n:
            ready = n.path("trapped")
            n.deploy("stub", STUBBORN + [ready], "--shutdown", "2s")
            n.wait_running_pid("stub/stub")
            wait_until(lambda: os.path.exists(ready), 10,
                       msg="the worker to ignore SIGTERM")
            os.remove(ready)
            r = n.ok("stop", "stub")
            self.assertIn("stopping stub", r.out)
            r = n.naos("start", "stub")
            self.assertEqual(r.code, 0, r)
            self.assertIn("start of stub is pending: it is still stopping",
                          r.out)
            self.assertNotIn("cannot", r.out + r.err)

            def starts():
                return len(n.events(kind="start", path="stub/stub"))
            wait_until(lambda: starts() >= 2, within(15),
                       msg="the pending start to be carried out")
            n.wait_state("stub", "running", timeout=within(10))
            n.barrier()
            self.assertEqual(starts(), 2)
            wait_until(lambda: os.path.exists(ready), 10,
                       msg="the new worker to ignore SIGTERM")
            n.ok("stop", "stub")
            r = n.naos("start", "stub")
            self.assertIn("start of stub is pending", r.out)
            r = n.naos("stop", "stub")
            self.assertEqual(r.code, 0, r)
            self.assertIn("stub is already stopping", r.out)
            n.wait_state("stub", "stopped", timeout=within(10))
            n.barrier()
            self.assertEqual(n.dep("stub")["state"], "stopped")
            self.assertEqual(starts(), 2)

    def test_leave_off_cluster_is_refused_and_changes_nothing(self):
        with self.node() as n:
            n.deploy("keep", ["sleep", "1000"])
            pid = n.wait_running_pid("keep/keep")
            p = subprocess.run([NODE_BIN, "leave", "--run", n.run],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 100, p)
            self.assertIn("not in a cluster", p.stderr)
            self.assertIn("nothing changed", p.stderr)
            self.assertIn("SIGTERM", p.stderr)
            # still serving, and the agent still runs the same process
            self.assertIsNone(n.proc.poll())
            self.assertEqual(n.ok("ping").code, 0)
            self.assertEqual(n.node_at("keep/keep")["pid"], pid)
            self.assertEqual(n.dep("keep")["state"], "running")

    def test_json_errors_from_the_node(self):
        with self.node() as n:
            r = n.naos("stop", "ghost", json=True)
            self.assertEqual(r.code, 100, r)
            doc = json.loads(r.err)
            self.assertEqual(doc["code"], 100)
            self.assertEqual(doc["status"], "not-found")
            self.assertIn("no deployment named ghost", doc["error"])
            self.assertEqual(r.out, "")

    def test_node_exit_codes(self):
        def run(*args):
            return subprocess.run([NODE_BIN, *args], capture_output=True,
                                   text=True, timeout=30)
        d = self.id().rsplit(".", 1)[-1]
        tmp = "/tmp/nit-ops-%d" % os.getpid()
        try:
            # permanent: usage, and a token file that is not there
            self.assertEqual(run("frob").returncode, 100)
            self.assertEqual(run("start", "--log-keep", "0").returncode, 100)
            p = run("start", "--run", tmp + "/r", "--data", tmp + "/d",
                    "--http", "127.0.0.1:0", "--http-token-file",
                    tmp + "/no-such-token")
            self.assertEqual(p.returncode, 100, (d, p))
            self.assertIn("no-such-token", p.stderr)
            # temporary: no node to ask
            p = run("leave", "--run", tmp + "/nobody")
            self.assertEqual(p.returncode, 111, p)
            p = run("--help")
            self.assertIn("100  permanent", p.stdout)
        finally:
            subprocess.run(["rm", "-rf", tmp])

    def test_help_and_readme_agree_on_detection_times(self):
        p = subprocess.run([NODE_BIN, "--help"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        helptext = " ".join(p.stdout.split())
        # the one source: SWIM_PROFILE_HELP in node/swim/swim.h, beside the
        # timing table (another change may retune the figures there)
        with open(SWIM_H) as f:
            h = f.read()
        m = re.search(r"#define SWIM_PROFILE_HELP\s*\\\n((?:\s*\"[^\"]*\"\s*\\?\n)+)",
                      h)
        self.assertIsNotNone(m, "SWIM_PROFILE_HELP in swim.h")
        macro = "".join(re.findall(r'"([^"]*)"', m.group(1)))
        macro = " ".join(macro.replace("\\n", " ").split())
        self.assertRegex(macro, r"\d s")
        self.assertIn(macro, helptext)
        with open(README) as f:
            text = " ".join(f.read().split())
        i = text.index("`--profile lan` (default)")
        para = text[i:i + 400]
        self.assertIn("naos-node --help", para)
        # the README gives no figures of its own to drift from the help's
        self.assertIsNone(re.search(r"\d s\b", para), para)


class Events(NodeTest):

    def human(self, n, *args):
        r = n.ok("events", *args)
        return [l for l in r.out.splitlines() if l.strip()]

    def test_numbers_filter_tail_and_past_the_end(self):
        with self.node() as n:
            n.deploy("alpha", ["sleep", "1000"])
            n.deploy("beta", ["sleep", "1000"])
            n.wait_running_pid("alpha/alpha")
            n.wait_running_pid("beta/beta")
            evs = n.events()
            last = evs[-1]["seq"]
            # each human line starts with the number --since takes
            lines = self.human(n)
            self.assertEqual(len(lines), len(evs))
            for l, e in zip(lines, evs):
                self.assertTrue(l.startswith("%d  " % e["seq"]), l)
            # past the end: nothing, not the whole history again
            for since in (last, last + 1, 99999):
                r = n.naos("events", "--since", since)
                self.assertEqual((r.code, r.out), (0, ""), r)
            r = n.naos("events", "--since", 99999, json=True)
            self.assertEqual((r.code, r.out), (0, ""), r)
            # by deployment, and by path
            a = n.ok("events", "alpha", json=True).data
            a = a if isinstance(a, list) else [a]
            self.assertTrue(a)
            self.assertEqual({e["deployment"] for e in a}, {"alpha"})
            self.assertEqual([e["seq"] for e in a],
                             [e["seq"] for e in evs
                              if e["deployment"] == "alpha"])
            w = n.ok("events", "beta/beta", json=True).data
            w = w if isinstance(w, list) else [w]
            self.assertTrue(w)
            self.assertTrue(all(e["path"] == "beta/beta" for e in w), w)
            r = n.naos("events", "alp")  # a prefix of a name is not a path
            self.assertEqual((r.code, r.out), (0, ""), r)
            # the last N, of everything or of one deployment
            t = n.ok("events", "--tail", 2, json=True).data
            self.assertEqual([e["seq"] for e in t],
                             [e["seq"] for e in evs[-2:]])
            t = n.ok("events", "alpha", "--tail", 1, json=True).data
            self.assertEqual(t["seq"], a[-1]["seq"])
            self.assertEqual(n.naos("events", "--tail", 0).code, 100)
            self.assertEqual(
                n.naos("events", "--tail", 1, "--since", 1).code, 100)

    def test_follow_from_past_the_end_waits_from_there(self):
        with self.node() as n:
            n.deploy("f", ["sleep", "1000"])
            pid = n.wait_running_pid("f/f")
            last = n.events()[-1]["seq"]
            cur = last + 2  # the exit and restart after it are not shown

            def served():
                _, _, body = n.http("GET", "/metrics")
                m = re.search(rb'naos_control_requests_total\{result="ok"\} '
                              rb'(\d+)', body)
                return int(m.group(1))
            before = served()
            out = n.path("follow.out")
            with open(out, "w") as fo:
                p = subprocess.Popen(
                    [os.environ.get("NAOS_BIN", "naos"), "--run", n.run,
                     "events", "-f", "--json", "--since", str(cur)],
                    stdout=fo, stderr=subprocess.STDOUT, env=n.cli_env)
            try:
                # its first request came while the cursor was past the end
                wait_until(lambda: served() > before, 10,
                           msg="the follower's first request")
                os.kill(pid, 9)
                n.wait_running_pid("f/f", other_than=pid)
                wait_until(lambda: n.events()[-1]["seq"] > cur, 10,
                           msg="events past the cursor")

                def followed():
                    with open(out) as f:
                        return [json.loads(l) for l in f if l.strip()]
                wait_until(lambda: followed(), 10, msg="the follower")
                seqs = [e["seq"] for e in followed()]
                self.assertEqual(seqs[0], cur + 1, followed())
                self.assertTrue(all(q > cur for q in seqs), seqs)
            finally:
                p.terminate()
                p.wait(timeout=10)
            self.assertEqual(p.returncode, 0)

    def test_events_survive_node_restarts_and_keep_counting(self):
        with self.node() as n:
            n.deploy("keep", ["sleep", "1000"])
            n.wait_running_pid("keep/keep")
            before = n.events()
            last = before[-1]["seq"]
            self.assertEqual(n.stop_node(), 0)
            n.start_node()
            n.wait_running_pid("keep/keep")
            after = n.events()
            # the history is there, with the same numbers
            self.assertEqual(after[:len(before)], before)
            new = after[len(before):]
            self.assertTrue(new)
            # the stop's events and then the restored deployment's, numbered
            # on from before
            self.assertEqual([e["seq"] for e in new],
                             list(range(last + 1, last + 1 + len(new))))
            kinds = [e["kind"] for e in new]
            self.assertIn("stop", kinds)
            self.assertEqual(kinds[-2:], ["deploy", "start"], new)
            # a cursor from before the restart goes on where it was
            r = n.ok("events", "--since", last, json=True).data
            r = r if isinstance(r, list) else [r]
            self.assertEqual([e["seq"] for e in r], [e["seq"] for e in new])
            # kill -9: what a reader was shown is kept
            shown = n.events()
            n.kill9()
            n.start_node()
            n.wait_running_pid("keep/keep")
            again = n.events()
            self.assertEqual(again[:len(shown)], shown)
            self.assertGreater(again[-1]["seq"], shown[-1]["seq"])


def crafted_events(n, since=0, tail=0, path=""):
    """An events request through it_ctl_crafted: (next, [seq, ...]), the
    reply's cursor included (the CLI keeps it to itself)."""
    p = subprocess.run([CRAFTED, "ipc://%s/ctl.sock" % n.run, "events",
                        str(since), str(tail), path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "code 0\n" in p.stdout, (p.stdout, p.stderr)
    nxt = [int(l.split()[1]) for l in p.stdout.splitlines()
           if l.startswith("next ")]
    seqs = [int(l.split()[1]) for l in p.stdout.splitlines()
            if l.startswith("seq ")]
    assert len(nxt) == 1, p.stdout
    return nxt[0], seqs


def events_total(n):
    _, _, body = n.http("GET", "/metrics")
    m = re.search(rb"^naos_events_total (\d+)", body, re.M)
    assert m, body
    return int(m.group(1))


class EventsKill9(NodeTest):
    """kill -9 right after a read: what the reply showed, and every number
    up to the cursor it gave, keeps its number (NO_TIMER: only a reply
    writes events here, so nothing else can have saved them)."""

    def restart(self, n, *paths):
        n.kill9()
        n.start_node()
        for p in paths:
            n.wait_running_pid(p)

    def restored_after(self, n, cursor, deployments):
        """Asserts that the restored deployments' deploy events (the new
        run's) come after cursor: a follower there sees them."""
        new = [e for e in n.events() if e["seq"] > cursor]
        got = {e["deployment"] for e in new if e["kind"] == "deploy"}
        self.assertEqual(got, set(deployments), new)

    def test_shown_events_keep_their_numbers(self):
        with self.node(env=NO_TIMER) as n:
            n.deploy("keep", ["sleep", "1000"])
            n.wait_running_pid("keep/keep")
            shown = n.events()
            self.assertTrue(shown)
            self.restart(n, "keep/keep")
            again = n.events()
            self.assertEqual(again[:len(shown)], shown)
            new = again[len(shown):]
            self.assertTrue(new)
            self.assertTrue(all(e["seq"] > shown[-1]["seq"] for e in new),
                            new)

    def test_a_filtered_cursor_keeps_its_numbers(self):
        with self.node(env=NO_TIMER) as n:
            n.deploy("alpha", ["sleep", "1000"])
            n.wait_running_pid("alpha/alpha")
            kept = n.events()  # written: all of it
            n.deploy("beta", ["sleep", "1000"])
            n.wait_running_pid("beta/beta")
            # alpha's events are written, beta's are not; the cursor moves
            # past beta's all the same
            cur, seqs = crafted_events(n, path="alpha")
            self.assertEqual(seqs, [e["seq"] for e in kept
                                    if e["deployment"] == "alpha"])
            self.assertGreater(cur, kept[-1]["seq"])
            self.restart(n, "alpha/alpha", "beta/beta")
            self.restored_after(n, cur, ["alpha", "beta"])

    def test_a_tail_that_matches_nothing_keeps_its_numbers(self):
        with self.node(env=NO_TIMER) as n:
            n.deploy("alpha", ["sleep", "1000"])
            n.wait_running_pid("alpha/alpha")
            kept = n.events()
            n.deploy("beta", ["sleep", "1000"])
            n.wait_running_pid("beta/beta")
            # nothing shown; the cursor is the last event, beta's, unsaved
            cur, seqs = crafted_events(n, tail=1, path="nosuch")
            self.assertEqual(seqs, [])
            self.assertGreater(cur, kept[-1]["seq"])
            self.restart(n, "alpha/alpha", "beta/beta")
            self.restored_after(n, cur, ["alpha", "beta"])

    def test_events_total_never_goes_down(self):
        with self.node(env=NO_TIMER) as n:
            n.deploy("m", ["sleep", "1000"])
            n.wait_running_pid("m/m")
            last = n.events()[-1]["seq"]
            self.assertEqual(events_total(n), last)
            n.deploy("m2", ["sleep", "1000"])
            n.wait_running_pid("m2/m2")
            # m2's events are recorded, not written: not counted yet
            before = events_total(n)
            self.assertEqual(before, last)
            self.restart(n, "m/m", "m2/m2")
            self.assertGreaterEqual(events_total(n), before)


if __name__ == "__main__":
    unittest.main()
