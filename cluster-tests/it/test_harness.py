# SPDX-License-Identifier: Apache-2.0
"""The harness itself: it must notice a process that survives its node."""
import os
import signal
import subprocess
import unittest

from harness import Node, NodeTest, pid_gone, wait_until


class Harness(NodeTest):

    def test_survivor_is_detected_and_killed(self):
        n = Node(self)
        stray = None
        with self.assertRaises(AssertionError) as cm:
            with n:
                # a process with the test's marker that the node never saw
                env = dict(os.environ, NAOS_TEST_MARKER=n.marker)
                stray = subprocess.Popen(["sleep", "1000"], env=env,
                                         start_new_session=True)
                # its environ shows once its exec has finished
                wait_until(lambda: n.survivors() == [stray.pid], 3,
                           msg="the stray process found by its marker")
        self.assertIn("survived", str(cm.exception))
        self.assertIn(str(stray.pid), str(cm.exception))
        stray.wait(timeout=5)  # the harness SIGKILLed it
        self.assertEqual(stray.returncode, -signal.SIGKILL)
        self.assertFalse(os.path.exists(n.dir), "temp dir left behind")

    def test_node_exit_code_and_cleanup(self):
        with self.node() as n:
            n.deploy("s", ["sleep", "1000"])
            pid = n.wait_running_pid("s/s")
            self.assertIn(pid, n.survivors())
            self.assertEqual(n.stop_node(), 0)
            self.assertTrue(pid_gone(pid))
            self.assertEqual(n.survivors(), [])
            # the CLI now reports the node unreachable
            self.assertEqual(n.naos("ping").code, 111)


if __name__ == "__main__":
    unittest.main()
