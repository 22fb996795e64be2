# SPDX-License-Identifier: Apache-2.0
"""What the node keeps across its own death: deployments (with what the
operator wanted of them), checkpoints, and nothing of its old workers."""
import signal
import unittest

from harness import NAOS_BIN, NodeTest, pid_gone, wait_until, within

AGENT = r'''#!/bin/sh
# Records how each run was started, resumes from its checkpoint, and leaves
# a grandchild behind in its process group.
echo "reason=[$NAOS_RESTART_REASON] ckpt=[$(@NAOS@ checkpoint load 2>/dev/null)]" >> "$1"
sleep 1000 &
echo $! > "$1.grandchild"
exec sleep 1000
'''


class Persist(NodeTest):

    def test_kill9_node_restores_deployments_and_checkpoints(self):
        with self.node() as n:
            agent = n.write("agent.sh", AGENT.replace("@NAOS@", NAOS_BIN))
            out = n.path("runs.txt")
            # agents reach their node through NAOS_CTL and the naos on PATH
            n.deploy("keeper", [agent, out])
            n.deploy("parked", ["sleep", "1000"])
            n.ok("stop", "parked")
            n.wait_state("parked", "stopped")
            old_pid = n.wait_running_pid("keeper/keeper")
            grandchild = int(wait_until(lambda: n.read("runs.txt.grandchild"),
                                        5, msg="grandchild pid"))
            r = n.naos("checkpoint", "save", "keeper/keeper", stdin="step 41")
            self.assertEqual(r.code, 0, r)
            n.stop_node(signal.SIGKILL)
            # the worker dies with its node (parent-death signal)
            wait_until(lambda: pid_gone(old_pid), 5, msg="worker gone")

            n.start_node()
            # the grandchild that outlived the old node is cleaned up
            wait_until(lambda: pid_gone(grandchild), 5, msg="leftover gone")
            n.wait_state("keeper", "running")
            new_pid = n.wait_running_pid("keeper/keeper", other_than=old_pid)
            self.assertNotEqual(new_pid, old_pid)
            runs = wait_until(lambda: (n.lines("runs.txt") or [None]*2)[1:]
                              and n.lines("runs.txt"), 5, msg="second run")
            self.assertEqual(runs[0], "reason=[] ckpt=[]")
            self.assertEqual(runs[1], "reason=[node-restart] ckpt=[step 41]")
            # stopped stays stopped; removed stays removed
            self.assertEqual(n.dep("parked")["state"], "stopped")
            n.ok("rm", "parked")
            n.stop_node(signal.SIGKILL)
            n.start_node()
            n.wait_state("keeper", "running")
            self.assertEqual(n.naos("status", "parked").code, 100)

    def test_restart_is_carried_out_once_not_at_every_start(self):
        """`naos restart` is kept as a count in the deployment's record (the
        command path, docs/architecture.md): the reconciler restarts once
        per request, so a node killed after a restart brings the agent
        back once (node-restart), without restarting it again."""
        with self.node() as n:
            agent = n.write("agent.sh", AGENT.replace("@NAOS@", NAOS_BIN))
            n.deploy("again", [agent, n.path("runs.txt")])
            first = n.wait_running_pid("again/again")
            # its line first: a restart while it loads its checkpoint
            # would kill it before it writes one (seen under ASan + load)
            wait_until(lambda: len(n.lines("runs.txt") or []) == 1,
                       within(15), msg="the first run's line")
            self.assertEqual(n.ok("restart", "again").out.strip(),
                             "restarted again")
            second = n.wait_running_pid("again/again", other_than=first)
            wait_until(lambda: len(n.lines("runs.txt") or []) == 2,
                       within(15), msg="the restarted run")
            n.stop_node(signal.SIGKILL)
            wait_until(lambda: pid_gone(second), 5, msg="worker gone")
            n.start_node()
            n.wait_running_pid("again/again", other_than=second)
            runs = wait_until(lambda: (lambda r: r if r and len(r) >= 3
                                       else None)(n.lines("runs.txt")),
                              within(15), msg="the third run's line")
            n.barrier()
            runs = n.lines("runs.txt")
            self.assertEqual(len(runs), 3, runs)
            self.assertTrue(runs[2].startswith("reason=[node-restart]"), runs)
            # and the next restart still counts
            n.ok("restart", "again")
            wait_until(lambda: len(n.lines("runs.txt") or []) == 4,
                       within(15), msg="the second restart's run")

    def test_failed_commit_stops_node_and_committed_entry_applies_at_start(
            self):
        """A store commit that fails stops the node (exit 111) and nothing
        is acknowledged after it. Here the command's entry was committed
        and its apply failed: the CLI learns nothing (the node stops before any reply), and the restarted
        node applies the entry before it starts anything (the command
        path, docs/architecture.md)."""
        with self.node(env={"NAOS_TESTING_FAIL_APPLY": "2"}) as n:
            n.deploy("first", ["sleep", "1000"])
            r = n.naos("--timeout", "2s", "deploy", "--no-wait", "second",
                       "--", "sleep", "1000")
            # The node stops inside the failed commit (on_store_fatal):
            # no reply, not even an error, so the CLI's outcome is unknown
            # (retried with the same id until --timeout: exit 112).
            self.assertEqual(r.code, 112, r)
            self.assertIn("outcome unknown: unable to read the answer",
                          r.err)
            wait_until(lambda: n.proc.poll() is not None, 10,
                       msg="the node to stop")
            self.assertEqual(n.stop_node(), 111)
            self.assertIn("stopping with exit 111", n.read_node_log())
            n.env.pop("NAOS_TESTING_FAIL_APPLY")
            n.start_node()
            # 1: the first start's no-op, 2: first, 3: second
            self.assertIn("applied commands 3..3", n.read_node_log())
            n.wait_state("first", "running")
            n.wait_state("second", "running")

    def test_checkpoint_limits_and_errors(self):
        with self.node() as n:
            n.deploy("c", ["sleep", "1000"])
            n.wait_running_pid("c/c")
            r = n.naos("checkpoint", "load", "c/c")
            self.assertEqual(r.code, 1, r)
            self.assertIn("no checkpoint saved for c/c yet", r.err)
            big = "x" * ((1 << 20) - 4096)  # STORE_CKPT_MAX
            r = n.naos("checkpoint", "save", "c/c", stdin=big)
            self.assertEqual(r.code, 0, r)
            r = n.naos("checkpoint", "save", "c/c", stdin=big + "!")
            self.assertEqual(r.code, 100, r)
            self.assertIn("1 MiB", r.err)
            r = n.naos("checkpoint", "load", "c/c", json=True)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.data["seq"], 1)
            self.assertEqual(r.data["size"], (1 << 20) - 4096)
            r = n.naos("checkpoint", "save", "nope/nope", stdin="x")
            self.assertEqual(r.code, 100, r)
            self.assertIn("no agent named nope/nope", r.err)

    def test_second_node_on_same_data_is_refused(self):
        with self.node() as n:
            import subprocess
            from harness import NODE_BIN
            p = subprocess.run([NODE_BIN, "start", "--run", n.path("r2"),
                                "--data", n.data], capture_output=True,
                               timeout=10, env=n.env)
            self.assertEqual(p.returncode, 111, p)
            self.assertIn(n.data, p.stderr.decode())
            self.assertIn("in use by another naos-node", p.stderr.decode())
            # and the first node is unharmed
            self.assertEqual(n.naos("ping").code, 0)


if __name__ == "__main__":
    unittest.main()
