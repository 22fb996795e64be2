# SPDX-License-Identifier: Apache-2.0
"""Operating a running tree by path (issue 10): `naos stop|start|restart
DEP/PATH` act on one agent or subtree as Erlang/OTP's terminate_child and
restart_child do, outside the supervisor's intensity; and the figure
`naos apply` prints for nested intensities (issue 14)."""
import json
import os
import signal
import unittest

from harness import NodeTest, pid_gone, wait_until

TREE = """\
name: lab
supervisor: {strategy: one-for-one, max_restarts: 5, window: 60s}
children:
  - id: workers
    supervisor: {strategy: one-for-all, max_restarts: 1, window: 60s}
    children:
      - {id: crashy, command: ["sleep", "1000"], shutdown: 2s}
      - {id: steady, command: ["sleep", "1000"], shutdown: 2s}
  - {id: side, command: ["sleep", "1000"], shutdown: 2s}
"""


class Subtree(NodeTest):

    def state(self, n, path):
        return n.node_at(path)["state"]

    def wait_stopped(self, n, path):
        return n.wait_worker(path, lambda w: w["state"] == "stopped" and
                             not w.get("pid"), 10, "stopped")

    def test_stop_start_restart_by_path(self):
        with self.node() as n:
            n.apply(TREE)
            crashy = n.wait_running_pid("lab/workers/crashy")
            steady = n.wait_running_pid("lab/workers/steady")
            side = n.wait_running_pid("lab/side")

            r = n.ok("stop", "lab/workers/crashy")
            self.assertIn("lab/workers/crashy", r.out)
            self.wait_stopped(n, "lab/workers/crashy")
            self.assertTrue(pid_gone(crashy))
            self.assertEqual(n.dep("lab")["state"], "running")
            # Idempotent, like systemctl stop.
            r = n.ok("stop", "lab/workers/crashy")
            self.assertIn("already stopped", r.out)

            # A sibling's crash restarts the one-for-all group, but the
            # stopped agent stays stopped (its supervisor does not start
            # it) and the operator's stop was not counted: this crash is
            # the first restart within max_restarts 1.
            os.kill(steady, signal.SIGKILL)
            steady = n.wait_running_pid("lab/workers/steady",
                                        other_than=steady)
            self.assertEqual(self.state(n, "lab/workers/crashy"), "stopped")
            self.assertEqual(
                n.node_at("lab/workers")["restarts_in_window"], 1)

            r = n.ok("start", "lab/workers/crashy")
            self.assertIn("lab/workers/crashy", r.out)
            crashy = n.wait_running_pid("lab/workers/crashy")
            r = n.ok("start", "lab/workers/crashy")
            self.assertIn("already running", r.out)

            # Restart by path: a new run of crashy only, whatever the
            # strategy; still not counted (max_restarts 1 is used up, so a
            # counted one would give up).
            for _ in range(3):
                n.ok("restart", "lab/workers/crashy")
                crashy = n.wait_running_pid("lab/workers/crashy",
                                            other_than=crashy)
            self.assertEqual(n.node_at("lab/workers/steady")["pid"], steady)
            self.assertEqual(
                n.node_at("lab/workers")["restarts_in_window"], 1)
            self.assertEqual(n.node_at("lab/workers")["state"], "running")

            # A subtree: both its agents stop; the rest runs on.
            n.ok("stop", "lab/workers")
            self.wait_stopped(n, "lab/workers/crashy")
            self.wait_stopped(n, "lab/workers/steady")
            n.wait_worker("lab/workers", lambda s: s["state"] == "stopped",
                          10, "stopped")
            self.assertEqual(n.node_at("lab/side")["pid"], side)
            self.assertEqual(n.dep("lab")["state"], "running")
            n.ok("start", "lab/workers")
            n.wait_running_pid("lab/workers/crashy")
            n.wait_running_pid("lab/workers/steady")

            # Started afresh, lab/workers forgot its restarts (a new OTP
            # supervisor process); a crash after an operator start counts
            # as any other.
            self.assertEqual(
                n.node_at("lab/workers")["restarts_in_window"], 0)
            crashy = n.node_at("lab/workers/crashy")["pid"]
            os.kill(crashy, signal.SIGKILL)
            n.wait_running_pid("lab/workers/crashy", other_than=crashy)
            self.assertEqual(
                n.node_at("lab/workers")["restarts_in_window"], 1)
            stops = [e for e in n.events("stop")
                     if e.get("path") == "lab/workers/crashy"]
            self.assertGreaterEqual(len(stops), 1, n.events())

    def test_bad_paths(self):
        with self.node() as n:
            n.apply(TREE)
            n.wait_running_pid("lab/workers/crashy")
            for cmd in ("stop", "start", "restart"):
                r = n.naos(cmd, "lab/workers/nope")
                self.assertEqual(r.code, 100, r)
                self.assertIn("lab/workers/nope", r.err)
                self.assertIn("no agent or supervisor", r.err)
            r = n.naos("stop", "nolab/workers")
            self.assertEqual(r.code, 100, r)
            self.assertIn("nolab", r.err)
            r = n.naos("rm", "lab/workers")
            self.assertEqual(r.code, 100, r)
            self.assertIn("lab/workers", r.err)
            # Under a stopped supervisor: says which, and how.
            n.ok("stop", "lab/workers")
            n.wait_worker("lab/workers", lambda s: s["state"] == "stopped",
                          10, "stopped")
            r = n.naos("start", "lab/workers/crashy")
            self.assertEqual(r.code, 100, r)
            self.assertIn("naos start lab/workers", r.err)
            r = n.ok("stop", "lab/workers/crashy")  # idempotent
            self.assertIn("already stopped", r.out)
            self.assertEqual(self.state(n, "lab/workers/crashy"), "stopped")
            self.assertEqual(self.state(n, "lab/side"), "running")

    def test_apply_prints_nested_intensity(self):
        # Issue 14: inner 5, top 5: 36 starts of a worker that dies at once.
        tree = ("name: nest\n"
                "supervisor: {max_restarts: 5, window: 60s}\n"
                "children:\n"
                "  - id: workers\n"
                "    supervisor: {max_restarts: 5, window: 60s}\n"
                "    children: [{id: crashy, command: [\"false\"]}]\n")
        with self.node() as n:
            p = n.write("nest.yaml", tree, 0o644)
            r = n.naos("apply", "-f", p, "--no-wait", json=True)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.data["max_starts"], 36, r.data)
            self.assertEqual(r.data["max_starts_worker"],
                             "nest/workers/crashy")
            self.assertEqual([l["supervisor"]
                              for l in r.data["max_starts_limits"]],
                             ["nest", "nest/workers"])
            self.assertIn("warning", r.data)
            n.wait_state("nest", "failed", 20)
            starts = n.events("start", "nest/workers/crashy")
            self.assertEqual(len(starts), 36, len(starts))
            n.ok("rm", "nest")
            wait_until(lambda: n.dep("nest") is None, 10,
                       msg="nest to be gone")
            r = n.naos("apply", "-f", p, "--no-wait")
            self.assertEqual(r.code, 0, r)
            self.assertIn("up to 36 times", r.out)
            self.assertIn("nest/workers (max_restarts 5)", r.err)
            # deploy too: one level, 30 + 1 starts, over the threshold.
            r = n.deploy("one", ["sleep", "1000"], "--max-restarts", "30",
                         "--window", "60s")
            self.assertIn("up to 31 times", r.out)
            self.assertIn("lower max_restarts of one (max_restarts 30)",
                          r.err)
            r = n.ok("deploy", "two", "--max-restarts", "3", "--json",
                     "--no-wait", "--",
                     "sleep", "1000")
            doc = json.loads(r.out)
            self.assertEqual(doc["max_starts"], 4, doc)
            self.assertNotIn("warning", doc)


if __name__ == "__main__":
    unittest.main()
