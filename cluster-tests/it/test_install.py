# SPDX-License-Identifier: Apache-2.0
"""Installing naos: `cmake --install` lays out both programs, their man
pages and a systemd unit that verifies; naos-node speaks the service
manager's side of the notify protocol (Type=notify): READY=1 only once it
serves, STOPPING=1 when it begins to stop, and its workers never see the
service manager's socket."""
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import Node, NodeTest, wait_until

BUILD_DIR = os.environ.get("NAOS_BUILD_DIR")


class ManagedNode(Node):
    """A node started the way systemd starts a Type=notify service: with
    NOTIFY_SOCKET naming a datagram socket this test reads."""

    def __init__(self, test, **kw):
        super().__init__(test, **kw)
        self.sm = None

    def start_node(self):
        if self.sm is None:
            self.sm_path = os.path.join(self.dir, "sm.sock")
            self.sm = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sm.bind(self.sm_path)
            self.env["NOTIFY_SOCKET"] = self.sm_path
        super().start_node()

    def recv(self, timeout=10.0):
        self.sm.settimeout(timeout)
        return self.sm.recv(4096).decode()

    def __exit__(self, et, ev, tb):
        try:
            return super().__exit__(et, ev, tb)
        finally:
            if self.sm is not None:
                self.sm.close()


class ServiceManagerTest(NodeTest):
    def test_ready_once_serving_then_stopping(self):
        with ManagedNode(self) as n:
            msg = n.recv()
            self.assertIn("READY=1", msg.split("\n"))
            # READY=1 means "usable now": control and HTTP both answer
            self.assertEqual(n.naos("ping").code, 0)
            self.assertTrue(os.path.exists(os.path.join(n.run, "http.addr")))
            # nothing else is said while it runs
            n.sm.setblocking(False)
            with self.assertRaises(BlockingIOError):
                n.sm.recv(4096)
            n.sm.setblocking(True)
            # workers get the node's own notify socket, never the manager's
            n.deploy("envy", ["sh", "-c",
                              'echo "$NOTIFY_SOCKET" > %s/ns; exec sleep 1000'
                              % n.dir])
            got = wait_until(lambda: n.read("ns"), msg="the worker's env")
            self.assertEqual(got.strip(), os.path.join(n.run, "notify.sock"))
            self.assertEqual(n.stop_node(), 0)  # SIGTERM: a clean stop
            self.assertIn("STOPPING=1", n.recv().split("\n"))

    def test_ready_comes_after_restored_deployments(self):
        with ManagedNode(self) as n:
            self.assertIn("READY=1", n.recv().split("\n"))
            n.deploy("keep", ["sleep", "1000"])
            n.wait_state("keep", "running")
            n.stop_node()
            self.assertIn("STOPPING=1", n.recv().split("\n"))
            n.start_node()
            self.assertIn("READY=1", n.recv().split("\n"))
            # the restored deployment was started before READY=1
            self.assertIn(n.dep("keep")["state"], ("running", "starting"))


@unittest.skipUnless(BUILD_DIR, "NAOS_BUILD_DIR not set (run through ctest)")
class CmakeInstallTest(unittest.TestCase):
    def test_install_lays_out_programs_man_pages_and_unit(self):
        prefix = tempfile.mkdtemp(prefix="naos-inst")
        try:
            subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix",
                            prefix], check=True, stdout=subprocess.DEVNULL)
            for rel in ("bin/naos", "bin/naos-node"):
                p = os.path.join(prefix, rel)
                self.assertTrue(os.access(p, os.X_OK), rel)
            out = subprocess.run([os.path.join(prefix, "bin/naos"),
                                  "--version"], capture_output=True,
                                 text=True, check=True).stdout
            self.assertTrue(out.startswith("naos "), out)
            man1 = os.path.join(prefix, "share/man/man1/naos.1")
            man8 = os.path.join(prefix, "share/man/man8/naos-node.8")
            with open(man1) as f:
                page = f.read()
            # every command's own --help is in the reference
            for cmd in ("deploy", "apply", "status", "checkpoint", "events"):
                self.assertIn(".SS naos %s" % cmd, page)
            with open(man8) as f:
                self.assertIn("naos-node", f.read())
            if shutil.which("nroff"):
                r = subprocess.run(["nroff", "-man", man1],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
            unit = os.path.join(prefix, "lib/systemd/system/naos-node.service")
            with open(unit) as f:
                text = f.read()
            self.assertIn("ExecStart=%s/bin/naos-node start" % prefix, text)
            for line in ("Type=notify", "KillMode=mixed"):
                self.assertIn(line + "\n", text)
            if shutil.which("systemd-analyze"):
                r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                    unit], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
