# SPDX-License-Identifier: Apache-2.0
"""No file descriptor of the node leaks into a worker."""
import json
import os
import unittest

from harness import NodeTest, wait_until

# Lists /proc/self/fd, then resolves each entry: the descriptor listdir
# itself used is closed by then and drops out.
LISTER = r'''
import json, os, sys, time
names = os.listdir("/proc/self/fd")
fds = {}
for name in names:
    try:
        fds[name] = os.readlink("/proc/self/fd/" + name)
    except OSError:
        pass  # listdir's own descriptor, closed already
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump(fds, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(1000)
'''


class Fds(NodeTest):

    def test_only_stdio_is_inherited(self):
        with self.node() as n:
            agent = n.write("lister.py", LISTER)
            # a notify worker and a plain one, after some control traffic
            n.deploy("other", ["sleep", "1000"])
            n.wait_running_pid("other/other")
            n.status()
            n.deploy("fds", ["python3", agent, n.path("fds.json")],
                     "--watchdog", "30s")
            text = wait_until(lambda: n.read("fds.json"), 5, msg="fd list")
            fds = json.loads(text)
            self.assertEqual(sorted(fds, key=int), ["0", "1", "2"],
                             "descriptors of the worker: %r" % fds)
            self.assertEqual(fds["0"], "/dev/null")
            self.assertTrue(fds["1"].startswith("pipe:"), fds)
            self.assertEqual(fds["1"], fds["2"])

    def test_output_discard_has_no_pipe_and_no_log(self):
        """output: discard sends stdio to /dev/null: no pipe in the worker,
        no log file, one node descriptor per worker (its pidfd), and
        `naos logs` says why there is nothing."""
        with self.node() as n:
            agent = n.write("lister.py", LISTER)
            n.deploy("quiet", ["python3", agent, n.path("fds.json")],
                     "--output", "discard")
            fds = json.loads(wait_until(lambda: n.read("fds.json"), 5,
                                        msg="fd list"))
            self.assertEqual({k: fds[k] for k in ("0", "1", "2")},
                             {"0": "/dev/null", "1": "/dev/null",
                              "2": "/dev/null"})
            self.assertFalse(os.path.exists(n.log_path("quiet/quiet")))
            r = n.naos("logs", "quiet")
            self.assertNotEqual(r.code, 0)
            self.assertIn("quiet/quiet has no log: its output is discarded",
                          r.err)
            # the same tree from YAML, with a logged sibling: the node holds
            # a pipe for the logged worker only
            n.apply("""
name: pair
children:
  - id: logged
    command: ["sleep", "1000"]
  - id: silent
    command: ["sleep", "1000"]
    output: discard
""")
            n.wait_state("pair", "running")
            pipes = {}
            for w in ("logged", "silent"):
                pid = n.wait_running_pid("pair/" + w)
                pipes[w] = os.readlink("/proc/%d/fd/1" % pid)
            self.assertTrue(pipes["logged"].startswith("pipe:"), pipes)
            self.assertEqual(pipes["silent"], "/dev/null")
            node_fds = [os.readlink("/proc/%d/fd/%s" % (n.proc.pid, f))
                        for f in os.listdir("/proc/%d/fd" % n.proc.pid)]
            self.assertIn(pipes["logged"], node_fds)
            st = n.status("pair")
            self.assertEqual(st["deployments"][0]["state"], "running")


if __name__ == "__main__":
    unittest.main()
