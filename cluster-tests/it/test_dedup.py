# SPDX-License-Identifier: Apache-2.0
"""A command whose outcome is unknown is retried by the CLI with the same
client id, and the cluster carries it out at most once (issue 11,
"Outcomes are honest"): the retry is answered with the first attempt's
outcome. When retrying until --timeout does not settle it, the CLI says
so with exit 112.

NAOS_TESTING_UNKNOWN_REPLY=N makes the node answer "outcome unknown" to
the Nth command it applies, though it carried it out: what a client sees
when the leader that took its command dies before answering."""
import unittest

from harness import NodeTest, wait_until, within


class Dedup(NodeTest):

    def test_restart_retried_after_unknown_outcome_is_done_once(self):
        with self.node(env={"NAOS_TESTING_UNKNOWN_REPLY": "2"}) as n:
            n.deploy("x", ["sleep", "1000"])       # command 1
            pid = n.wait_running_pid("x/x", within(5))
            r = n.naos("restart", "x")             # command 2: unknown
            self.assertEqual(r.code, 0, r)
            self.assertIn("restart x: carried out once, at entry", r.out)
            self.assertIn("this retry of it changed nothing", r.out)
            new = n.wait_running_pid("x/x", within(5), other_than=pid)
            # once: a restart carried out twice would end the new run too
            # (by the barrier, anything the node was due to do is done)
            n.barrier()
            self.assertEqual(n.node_at("x/x")["pid"], new)
            self.assertEqual(n.metric("naos_command_retries_total",
                                      found="door"), 1)
            self.assertIn("NAOS_TESTING_UNKNOWN_REPLY=2", n.read_node_log())

    def test_deploy_retried_after_unknown_outcome_is_not_refused(self):
        with self.node(env={"NAOS_TESTING_UNKNOWN_REPLY": "1"}) as n:
            # the retry finds the name taken by its own first attempt:
            # answered as deployed, not "already exists" (exit 100)
            r = n.naos("deploy", "y", "--no-wait", "--", "sleep", "1000")
            self.assertEqual(r.code, 0, r)
            self.assertIn("deployed y", r.out)
            n.wait_running_pid("y/y", within(5))
            self.assertEqual(len(n.status()["deployments"]), 1)

    def test_checkpoint_save_retried_is_saved_once(self):
        with self.node(env={"NAOS_TESTING_UNKNOWN_REPLY": "2"}) as n:
            n.deploy("z", ["sleep", "1000"])
            n.wait_running_pid("z/z", within(5))
            r = n.naos("checkpoint", "save", "z", json=True, stdin="state-1")
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.data["seq"], 1, r)
            self.assertEqual(r.data["size"], 7, r)
            r = n.naos("checkpoint", "load", "z", json=True)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.data["seq"], 1, r)
            # the next save is a new command: seq 2
            r = n.naos("checkpoint", "save", "z", json=True, stdin="state-2")
            self.assertEqual(r.data["seq"], 2, r)

if __name__ == "__main__":
    unittest.main()
