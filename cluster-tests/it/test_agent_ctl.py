# SPDX-License-Identifier: Apache-2.0
"""test_agent_ctl.py: what an agent may ask of its node (issue 9, "Agents
can control the whole node"), and one checkpoint per worker (issue 10).

Every worker finds the agent endpoint (RUN/agent.sock) in NAOS_CTL. There
it may save and load its own checkpoint, read its own deployment's status
and ping; anything else is refused. The operator's control socket
(RUN/ctl.sock) refuses requests from a worker run too, unless the
worker's spec grants it control (`control: full`, `--control full`), in
which case its NAOS_CTL is the control socket.

Epochs (issue 12): each run gets NAOS_EPOCH, its deployment's placement
epoch; a save is fenced by the epoch its run was started with, or by the
operator's --epoch.
"""
import json
import os
import unittest

from harness import NAOS_BIN, NodeTest, wait_until, within

# An agent that runs `naos` commands and records "label=exit code" and
# their stderr in OUT, then "done", then sleeps. @NAOS@, @RUN@ are filled
# in; the commands come as shell lines.
AGENT = r'''#!/bin/sh
OUT="$1"
NAOS=@NAOS@
RUN=@RUN@
run() {
    label="$1"; shift
    "$@" > "$OUT.$label.out" 2> "$OUT.$label.err"
    echo "$label=$?" >> "$OUT"
}
echo "ctl=$NAOS_CTL" >> "$OUT"
echo "pid=$$" >> "$OUT"
@COMMANDS@
echo done >> "$OUT"
exec sleep 1000
'''


def agent_script(n, name, commands):
    text = (AGENT.replace("@NAOS@", NAOS_BIN).replace("@RUN@", n.run)
            .replace("@COMMANDS@", commands))
    return n.write(name + ".sh", text)


def results(n, name, timeout=60):
    """Waits for agent `name` to finish its commands; returns {label:
    value} from its OUT file."""
    out = n.path(name + ".txt")
    wait_until(lambda: "done" in n.lines(name + ".txt"), timeout,
               msg="agent %s to run its commands: %r" %
               (name, n.read(name + ".txt")))
    res = {}
    for line in n.lines(name + ".txt"):
        if "=" in line:
            k, v = line.split("=", 1)
            res[k] = v
    res["_out"] = out
    return res


def err_of(res, label):
    with open(res["_out"] + "." + label + ".err") as f:
        return f.read()


def out_of(res, label):
    with open(res["_out"] + "." + label + ".out") as f:
        return f.read()


class AgentEndpoint(NodeTest):

    def test_agent_cannot_manage_other_deployments(self):
        with self.node() as n:
            n.deploy("keeper", ["sleep", "1000"])
            keeper_pid = n.wait_running_pid("keeper/keeper", timeout=30)
            script = agent_script(n, "rogue", r'''
run rm_ctl $NAOS rm keeper
run deploy_ctl $NAOS deploy evil -- sleep 1000
run stop_ctl $NAOS stop keeper
run rm_run $NAOS --run "$RUN" rm keeper
run deploy_run $NAOS --run "$RUN" deploy evil2 -- sleep 1000
run rm_default env -u NAOS_CTL NAOS_RUN_DIR="$RUN" $NAOS rm keeper
run status_other $NAOS status keeper
run events $NAOS events
run status_run $NAOS --run "$RUN" status
run helper sh -c 'setsid sh -c "$0 --run $1 rm keeper"' $NAOS "$RUN"
''')
            n.deploy("rogue", [script, n.path("rogue.txt")])
            r = results(n, "rogue")
            for label in ("rm_ctl", "deploy_ctl", "stop_ctl", "rm_run",
                          "deploy_run", "rm_default", "status_other",
                          "events", "status_run", "helper"):
                self.assertEqual(r[label], "100", "%s: %s" %
                                 (label, err_of(r, label)))
                self.assertIn("refused", err_of(r, label), label)
            # The endpoint says what an agent may do and how to grant more.
            e = err_of(r, "rm_ctl")
            self.assertIn("agent rogue/rogue may not control", e)
            self.assertIn("own checkpoint", e)
            self.assertIn("control: full", e)
            # The control socket names the agent the request came from.
            e = err_of(r, "rm_run")
            self.assertIn("comes from agent rogue/rogue", e)
            self.assertIn("not granted control", e)
            # Nothing changed.
            self.assertEqual(n.dep("keeper")["state"], "running")
            self.assertEqual(n.wait_running_pid("keeper/keeper", timeout=30),
                             keeper_pid)
            names = [d["name"] for d in n.status()["deployments"]]
            self.assertEqual(sorted(names), ["keeper", "rogue"])
            # The operator is still served on the control socket.
            n.ok("ping")
            self.assertEqual(r["ctl"], "ipc://%s/agent.sock" % n.run)

    def test_agent_saves_and_loads_only_its_own_checkpoint(self):
        with self.node() as n:
            n.deploy("other", ["sleep", "1000"])
            n.wait_running_pid("other/other", timeout=30)
            n.naos("checkpoint", "save", "other/other", stdin="secret")
            script = agent_script(n, "ag", r'''
echo "state one" > "$OUT.data"
run save $NAOS checkpoint save -f "$OUT.data"
run load $NAOS checkpoint load
run loadjson $NAOS --json checkpoint load
run loadname $NAOS checkpoint load ag/ag
run status $NAOS --json status
run ping $NAOS ping
run load_other $NAOS checkpoint load other/other
run save_other $NAOS checkpoint save other/other -f "$OUT.data"
run load_other_run $NAOS --run "$RUN" checkpoint load other/other
''')
            n.deploy("ag", [script, n.path("ag.txt")])
            r = results(n, "ag")
            for label in ("load_other", "save_other", "load_other_run"):
                self.assertEqual(r[label], "100", "%s: %s" %
                                 (label, err_of(r, label)))
                self.assertIn("refused" if label == "load_other_run"
                              else "only its own checkpoint",
                              err_of(r, label), label)
            self.assertNotIn("secret", out_of(r, "load_other"))
            for label in ("save", "load", "loadjson", "loadname", "status",
                          "ping"):
                self.assertEqual(r[label], "0", "%s: %s" %
                                 (label, err_of(r, label)))
            self.assertEqual(out_of(r, "load"), "state one\n")
            self.assertEqual(out_of(r, "loadname"), "state one\n")
            doc = json.loads(out_of(r, "loadjson"))
            self.assertEqual(doc["path"], "ag/ag")
            # The run that saved it is stamped on the checkpoint.
            self.assertEqual(doc["saved_by"], {"agent": "ag/ag",
                                               "pid": int(r["pid"]),
                                               "restarts": 0})
            # Its status is its own deployment's, and only that.
            st = json.loads(out_of(r, "status"))
            self.assertEqual([d["name"] for d in st["deployments"]], ["ag"])
            self.assertIn("agent endpoint of ag/ag", out_of(r, "ping"))
            # The other agent's checkpoint is untouched; the operator sees
            # the agent's, with who saved it.
            self.assertEqual(n.ok("checkpoint", "load", "other/other").out,
                             "secret")
            doc = n.ok("checkpoint", "load", "ag/ag", json=True).data
            self.assertEqual(doc["saved_by"]["agent"], "ag/ag")
            doc = n.ok("checkpoint", "load", "other/other", json=True).data
            self.assertIsNone(doc["saved_by"])

    def test_granted_agent_may_manage_others(self):
        with self.node() as n:
            n.deploy("keeper", ["sleep", "1000"])
            n.deploy("victim", ["sleep", "1000"])
            n.wait_running_pid("keeper/keeper", timeout=30)
            commands = r'''
run rm $NAOS rm keeper
run deploy $NAOS deploy minion --env NAOS_TEST_MARKER=$NAOS_TEST_MARKER -- sleep 1000
run save $NAOS checkpoint save victim/victim -f /dev/null
'''
            boss = agent_script(n, "boss", commands)
            n.deploy("boss", [boss, n.path("boss.txt")], "--control", "full")
            r = results(n, "boss")
            self.assertEqual(r["ctl"], "ipc://%s/ctl.sock" % n.run)
            for label in ("rm", "deploy", "save"):
                self.assertEqual(r[label], "0", "%s: %s" %
                                 (label, err_of(r, label)))
            self.assertIsNone(n.dep("keeper"))
            n.wait_state("minion", "running", timeout=30)
            doc = n.ok("checkpoint", "load", "victim/victim", json=True).data
            self.assertEqual(doc["saved_by"]["agent"], "boss/boss")
            # The grant is per worker and comes from the tree file too.
            boss2 = agent_script(n, "boss2", "run rm $NAOS rm minion\n")
            n.apply("name: boss2\ncommand: [%s, %s]\ncontrol: full\n"
                    "env: {NAOS_TEST_MARKER: %s}\n" %
                    (boss2, n.path("boss2.txt"), n.marker))
            r = results(n, "boss2")
            self.assertEqual(r["rm"], "0", err_of(r, "rm"))
            wait_until(lambda: n.dep("minion") is None, 30,
                       msg="minion removed by boss2")

    def test_agent_endpoint_refuses_the_operator(self):
        with self.node() as n:
            r = n.naos("--node", "ipc://%s/agent.sock" % n.run, "ping")
            self.assertEqual(r.code, 100, r)
            self.assertIn("agent endpoint", r.err)
            self.assertIn("ctl.sock", r.err)


class OneCheckpointPerWorker(NodeTest):

    def test_deployment_name_and_worker_path_are_one_checkpoint(self):
        with self.node() as n:
            script = agent_script(n, "ck", r'''
echo from-agent > "$OUT.data"
run save $NAOS checkpoint save -f "$OUT.data"
''')
            n.deploy("ck", [script, n.path("ck.txt")])
            r = results(n, "ck")
            self.assertEqual(r["save"], "0", err_of(r, "save"))
            # The operator names it by the deployment: the agent's record.
            self.assertEqual(n.ok("checkpoint", "load", "ck").out,
                             "from-agent\n")
            r1 = n.naos("checkpoint", "save", "ck", stdin="from-operator")
            self.assertEqual(r1.code, 0, r1)
            self.assertIn("of ck/ck", r1.out)
            for name in ("ck", "ck/ck"):
                doc = n.ok("checkpoint", "load", name, json=True).data
                self.assertEqual(doc["path"], "ck/ck")
                self.assertEqual(doc["seq"], 2)
                self.assertEqual(n.ok("checkpoint", "load", name).out,
                                 "from-operator")

    def test_a_supervisor_with_several_workers_names_none(self):
        with self.node() as n:
            n.apply("name: lab\nchildren:\n"
                    "  - {id: a, command: [sleep, '1000'], env: {NAOS_TEST_MARKER: %s}}\n"
                    "  - {id: b, command: [sleep, '1000'], env: {NAOS_TEST_MARKER: %s}}\n"
                    % (n.marker, n.marker))
            r = n.naos("checkpoint", "save", "lab", stdin="x")
            self.assertEqual(r.code, 100, r)
            self.assertIn("lab has 2 workers", r.err)
            self.assertIn("lab/<child>", r.err)
            r = n.naos("checkpoint", "save", stdin="x")
            self.assertEqual(r.code, 100, r)
            self.assertIn("missing the agent's name", r.err)
            n.ok("checkpoint", "save", "lab/a")


# An agent that notes its NAOS_EPOCH and saves its own checkpoint asking
# for epoch 1, which is never a deployment's (the log's first entry is a
# leader's no-op): the node stamps the run's own epoch instead.
EPOCH_AGENT = r'''
echo "$NAOS_EPOCH" > "$OUT.epoch"
echo "agent state $NAOS_EPOCH" > "$OUT.data"
run save $NAOS checkpoint save --epoch 1 -f "$OUT.data"
'''


class Epochs(NodeTest):

    def epoch_run(self, n, label):
        """Deploys ep running EPOCH_AGENT with OUT = label.txt; returns
        (its results, its NAOS_EPOCH)."""
        script = agent_script(n, "ep", EPOCH_AGENT)
        n.deploy("ep", [script, n.path(label + ".txt")])
        r = results(n, label)
        return r, int(n.read(label + ".txt.epoch").strip())

    def test_runs_get_their_epoch_and_saves_are_fenced(self):
        with self.node() as n:
            r, e1 = self.epoch_run(n, "first")
            self.assertGreater(e1, 1)
            # the agent's own save: stamped with its run's epoch, not the
            # stale 1 it asked for
            self.assertEqual(r["save"], "0", err_of(r, "save"))
            self.assertEqual(n.ok("checkpoint", "load", "ep").out,
                             "agent state %d\n" % e1)
            # the operator fences a save with the run's epoch
            w = n.naos("checkpoint", "save", "ep", "--epoch", e1,
                       stdin="operator at e1")
            self.assertEqual(w.code, 0, w)
            # removed and deployed again: another placement, a later epoch
            n.ok("rm", "ep")
            wait_until(lambda: n.dep("ep") is None, within(30),
                       msg="ep removed")
            r, e2 = self.epoch_run(n, "second")
            self.assertGreater(e2, e1)
            self.assertEqual(r["save"], "0", err_of(r, "save"))
            saved = "agent state %d\n" % e2
            self.assertEqual(n.ok("checkpoint", "load", "ep").out, saved)
            # a save fenced by the old epoch changes nothing, and says
            # where and at which epoch the deployment runs now: the new
            # run's NAOS_EPOCH is its placement's
            w = n.naos("checkpoint", "save", "ep", "--epoch", e1,
                       stdin="stale")
            self.assertEqual(w.code, 100, w)
            self.assertIn("stale epoch: this deployment now runs on %s at "
                          "epoch %d" % (n.name, e2), w.err)
            doc = n.ok("checkpoint", "load", "ep", json=True).data
            self.assertEqual(doc["seq"], 1)
            self.assertEqual(n.ok("checkpoint", "load", "ep").out, saved)
            # the current epoch saves, and so does the operator's override
            w = n.naos("checkpoint", "save", "ep", "--epoch", e2,
                       stdin="operator at e2")
            self.assertEqual(w.code, 0, w)
            w = n.naos("checkpoint", "save", "ep", stdin="override")
            self.assertEqual(w.code, 0, w)
            self.assertEqual(n.ok("checkpoint", "load", "ep").out,
                             "override")
            # a worker granted control is fenced by its own run's epoch on
            # its own checkpoint, and by --epoch like the operator on
            # another deployment's
            boss = agent_script(n, "boss", r'''
run own $NAOS checkpoint save --epoch 1 -f /dev/null
run other $NAOS checkpoint save ep --epoch 1 -f /dev/null
''')
            n.deploy("boss", [boss, n.path("boss.txt")], "--control",
                     "full")
            r = results(n, "boss")
            self.assertEqual(r["own"], "0", err_of(r, "own"))
            self.assertEqual(r["other"], "100", err_of(r, "other"))
            self.assertIn("stale epoch: this deployment now runs on %s at "
                          "epoch %d" % (n.name, e2), err_of(r, "other"))
            self.assertEqual(n.ok("checkpoint", "load", "ep").out,
                             "override")


if __name__ == "__main__":
    unittest.main()
