# SPDX-License-Identifier: Apache-2.0
"""Membership changes on real nodes: three founders on loopback; one is
killed for good and `naos nodes remove NAME` (asked of a follower, which
forwards it to the leader) takes it out of the configuration: every node
then counts 2 voters (`naos nodes` roles, naos_raft_voters), a `config`
event names them, and commands go on being committed by the two. A live
member, an unknown name, an agent and a lone node are refused with a
clear error and nothing changed. The removed node restarted on its old
data never disturbs the two: their leader and term stay. Every node is
reaped by PID and its temp dirs removed."""
import unittest

from harness import (NAOS_BIN, FoundersTest, Node, gauge, wait_until,
                     within)


class RaftMembership(FoundersTest):
    dir_prefix = "nrmem"
    name_prefix = "m"

    def deploy(self, via, name):
        r = self.naos_ready(via, "deploy", name, "--no-wait", "--", "sleep",
                            "1000")
        self.assertEqual(r.code, 0, r)

    def test_dead_voter_removed_for_good(self):
        leader = self.leader(self.nodes)
        self.deploy(leader, "a0")
        f, g = [n for n in self.nodes if n is not leader]
        # refused: a live member, an unknown name, no name
        r = g.naos("nodes", "remove", f.name)
        self.assertEqual(r.code, 100, r)
        self.assertIn("is alive", r.err)
        r = g.naos("nodes", "remove", "nosuch")
        self.assertEqual(r.code, 100, r)
        self.assertIn("no member named nosuch", r.err)
        r = g.naos("nodes", "remove")
        self.assertEqual(r.code, 100, r)
        self.assertIn("takes one NAME", r.err)
        self.assertEqual(gauge(leader, "naos_raft_voters"), 3)

        f.kill9()
        wait_until(lambda: g.members()[f.name]["state"] == "dead",
                   within(20), interval=0.1, msg="f seen dead")
        term = gauge(leader, "naos_raft_term")
        # through a follower: forwarded to the leader, answered once applied
        r = g.naos("nodes", "remove", f.name)
        self.assertEqual(r.code, 0, r)
        self.assertIn("configuration is now", r.out)
        self.assertNotIn(f.name, r.out)
        for n in (leader, g):
            wait_until(lambda n=n: gauge(n, "naos_raft_voters") == 2,
                       within(10), interval=0.05,
                       msg="%s counts 2 voters" % n.name)
            roles = {name: m.get("role") for name, m in n.members().items()}
            self.assertEqual(sorted(roles[x.name] for x in (leader, g)),
                             ["leader", "voter"], roles)
            self.assertIn(roles.get(f.name), ("", None), roles)
            self.assertTrue(n.events(kind="config"), n.events())
        # again: it is no member any more
        r = g.naos("nodes", "remove", f.name)
        self.assertEqual(r.code, 100, r)
        # the two commit on their own
        self.deploy(g, "b0")
        self.assertIn("b0", [d["name"] for d in
                             g.status(local=False)["deployments"]])

        # the removed node back on its old data: it never disturbs them
        f.start_node()
        # it believes it still votes: once it has stood (a pre-vote round
        # of its own), the two must be undisturbed
        wait_until(lambda: gauge(f, "naos_raft_prevotes_total") >= 1,
                   within(20), interval=0.1,
                   msg="the removed node stood for election")
        self.assertEqual(gauge(leader, "naos_raft_leader"), 1)
        self.assertEqual(gauge(leader, "naos_raft_term"), term)
        self.deploy(leader, "c0")
        self.assertEqual(gauge(g, "naos_raft_voters"), 2)

    def test_an_agent_may_not_remove_a_member(self):
        leader = self.leader(self.nodes)
        f = [n for n in self.nodes if n is not leader][0]
        # an agent (its `naos` reaches its own endpoint, NAOS_CTL), even
        # one granted control of its node, is refused: DENIED, exit 100,
        # nothing changed
        out = leader.path("agent.out")
        script = ("#!/bin/sh\n%s nodes remove %s > %s 2>&1\n"
                  "echo \"exit=$?\" >> %s\nexec sleep 1000\n"
                  % (NAOS_BIN, f.name, out, out))
        leader.write("agent.sh", script)
        self.deploy_cmd(leader, "ag", leader.name, "--control", "full",
                        leader.path("agent.sh"))
        text = wait_until(lambda: "exit=" in (leader.read("agent.out") or "")
                          and leader.read("agent.out"), within(15),
                          interval=0.1, msg="the agent's attempt answered")
        self.assertIn("exit=100", text)
        self.assertIn("may not change the cluster's members", text)
        self.assertEqual(gauge(leader, "naos_raft_voters"), 3)

    def deploy_cmd(self, via, name, on, opt, val, *cmd):
        r = self.naos_ready(via, "deploy", name, "--no-wait", "--on", on,
                            opt, val, "--", *cmd)
        self.assertEqual(r.code, 0, r)


class LoneNode(unittest.TestCase):

    def test_a_lone_node_has_no_member_to_remove(self):
        with Node(name="alone") as n:
            r = n.naos("nodes", "remove", "alone")
            self.assertEqual(r.code, 100, r)
            self.assertIn("runs alone", r.err)


if __name__ == "__main__":
    unittest.main()
