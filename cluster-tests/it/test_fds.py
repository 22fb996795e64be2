# SPDX-License-Identifier: Apache-2.0
"""No file descriptor of the node leaks into a worker."""
import json
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


if __name__ == "__main__":
    unittest.main()
