# SPDX-License-Identifier: Apache-2.0
"""`naos keygen` and `naos-node start --key`: a cluster key file is
private, and a node refuses one that others can read."""
import os
import stat
import subprocess
import tempfile
import shutil
import unittest

from harness import NAOS_BIN, NODE_BIN, Node, NodeTest


class Keys(NodeTest):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nkey", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def keygen(self, *args):
        return subprocess.run([NAOS_BIN, "keygen", *args],
                              capture_output=True, text=True, timeout=10)

    def test_keygen_writes_a_private_key_once(self):
        path = os.path.join(self.dir, "cluster.key")
        p = self.keygen(path)
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout, r"wrote cluster key [0-9a-f]{8} to ")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            line = f.read()
        self.assertTrue(line.startswith("naos-cluster-key v1 "), line)
        # never silently replaced
        p = self.keygen(path)
        self.assertEqual(p.returncode, 100, p)
        with open(path) as f:
            self.assertEqual(f.read(), line)
        p = self.keygen(path, "--force")
        self.assertEqual(p.returncode, 0, p)
        with open(path) as f:
            self.assertNotEqual(f.read(), line)

    def test_node_refuses_a_readable_key_and_takes_a_private_one(self):
        path = os.path.join(self.dir, "cluster.key")
        self.assertEqual(self.keygen(path).returncode, 0)
        os.chmod(path, 0o644)
        run = os.path.join(self.dir, "r")
        p = subprocess.run([NODE_BIN, "start", "--run", run, "--data",
                            os.path.join(self.dir, "d"), "--key", path],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 100, p)
        self.assertIn("chmod 600 " + path, p.stderr)
        os.chmod(path, 0o600)
        with Node(self, extra_args=["--key", path]) as n:
            self.assertEqual(n.naos("ping").code, 0)
            self.assertRegex(n.read_node_log(), r"cluster key [0-9a-f]{8}")

    def test_node_refuses_a_malformed_key(self):
        path = os.path.join(self.dir, "bad.key")
        with open(path, "w") as f:
            f.write("not a key\n")
        os.chmod(path, 0o600)
        p = subprocess.run([NODE_BIN, "start", "--run",
                            os.path.join(self.dir, "r"), "--data",
                            os.path.join(self.dir, "d"), "--key", path],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 100, p)
        self.assertIn(path, p.stderr)


if __name__ == "__main__":
    unittest.main()
