# SPDX-License-Identifier: Apache-2.0
"""The directories naos trusts (issue 9): a run or data directory another
user owns or can write to is refused with the command that fixes it,
nothing the node opens in them is reached through a planted link, the CLI
sends nothing to a control socket that is not its own or root's, and a
node that cannot bind a listener starts no agent at all.

These tests run as root (as the suite does here) to hand files to nobody;
as another user they skip what needs chown."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import NAOS_BIN, NODE_BIN, NodeTest, wait_until

NOBODY = 65534
AS_ROOT = os.geteuid() == 0


class Dirs(NodeTest):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nid", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.env = dict(os.environ)
        for k in ("NAOS_RUN_DIR", "NAOS_DATA_DIR", "NAOS_CTL",
                  "NOTIFY_SOCKET"):
            self.env.pop(k, None)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, run, data, *extra, timeout=20):
        """Runs naos-node start on run/data, expecting it to refuse: returns
        the finished process (a node that keeps running fails the test)."""
        argv = [NODE_BIN, "start", "--run", run, "--data", data, "--http",
                "off", *extra]
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=timeout, env=self.env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("naos-node started on %s / %s instead of refusing" %
                      (run, data))

    def naos(self, run, *args, timeout=20):
        return subprocess.run([NAOS_BIN, "--run", run, *args],
                              capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    # ---- the node refuses what it cannot trust ---------------------------

    def test_world_writable_run_dir_refused_with_the_fix(self):
        run = self.p("r")
        os.mkdir(run)
        os.chmod(run, 0o777)
        r = self.start(run, self.p("d"))
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("run directory %s is writable by group or others "
                      "(mode 0777)" % run, r.stderr)
        self.assertIn("`chmod 700 %s`" % run, r.stderr)
        self.assertIn("--run", r.stderr)
        # nothing was created in it
        self.assertEqual(os.listdir(run), [])

    def test_world_writable_data_dir_refused(self):
        data = self.p("d")
        os.mkdir(data)
        os.chmod(data, 0o777)
        r = self.start(self.p("r"), data)
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("data directory %s is writable" % data, r.stderr)
        self.assertIn("--data", r.stderr)
        self.assertEqual(os.listdir(data), [])
        # the store and log directories are held to the same rule
        os.chmod(data, 0o700)
        os.mkdir(self.p("d", "logs"), 0o777)
        os.chmod(self.p("d", "logs"), 0o777)
        r = self.start(self.p("r"), data)
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("log directory %s is writable" % self.p("d", "logs"),
                      r.stderr)

    @unittest.skipUnless(AS_ROOT, "needs root to chown to nobody")
    def test_run_dir_of_another_user_refused(self):
        run = self.p("r")
        os.mkdir(run, 0o700)
        os.chown(run, NOBODY, NOBODY)
        r = self.start(run, self.p("d"))
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("run directory %s is a directory owned by uid 65534, "
                      "not by uid 0" % run, r.stderr)
        self.assertIn("`chown 0 %s`" % run, r.stderr)
        self.assertEqual(os.listdir(run), [])

    def test_0755_run_dir_is_fine(self):
        run, data = self.p("r"), self.p("d")
        os.mkdir(run)
        os.chmod(run, 0o755)
        proc = subprocess.Popen([NODE_BIN, "start", "--run", run, "--data",
                                 data, "--http", "off"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=self.env)
        try:
            wait_until(lambda: proc.poll() is not None or
                       self.naos(run, "ping").returncode == 0, 10,
                       msg="the node to answer ping")
            self.assertIsNone(proc.poll(), proc.stderr.read()
                              if proc.poll() is not None else "")
            # missing directories are created 0700
            self.assertEqual(os.stat(data).st_mode & 0o777, 0o700)
            self.assertEqual(os.stat(self.p("d", "logs")).st_mode & 0o777,
                             0o700)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            proc.stderr.close()
        self.assertEqual(proc.returncode, 0)

    def test_planted_lock_link_not_followed(self):
        """node.lock planted as a link to someone's file: the node used to
        truncate the target and write its pid into it."""
        run = self.p("r")
        os.mkdir(run, 0o700)
        victim = self.p("victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, os.path.join(run, "node.lock"))
        r = self.start(run, self.p("d"))
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("node.lock", r.stderr)
        self.assertIn("symbolic link", r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_planted_temporary_not_followed(self):
        """RUN/http.addr.tmp planted as a link: removed and replaced, its
        target untouched; the node serves normally."""
        run, data = self.p("r"), self.p("d")
        os.mkdir(run, 0o700)
        victim = self.p("victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, os.path.join(run, "http.addr.tmp"))
        proc = subprocess.Popen([NODE_BIN, "start", "--run", run, "--data",
                                 data, "--http", "127.0.0.1:0"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=self.env)
        try:
            addr = os.path.join(run, "http.addr")
            wait_until(lambda: proc.poll() is not None or
                       os.path.exists(addr), 10, msg="RUN/http.addr")
            self.assertIsNone(proc.poll())
            with open(addr) as f:
                self.assertTrue(f.read().startswith("http://127.0.0.1:"))
            self.assertFalse(os.path.lexists(addr + ".tmp"))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    # ---- the CLI sends nothing to a socket it cannot trust ---------------

    def listener(self, run):
        """A unix socket listening at RUN/ctl.sock, as an impostor would
        bind it. Returns the socket (non-blocking, closed at cleanup)."""
        path = os.path.join(run, "ctl.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(path)
        s.listen(8)
        s.setblocking(False)
        os.chmod(path, 0o600)
        return s, path

    def assert_never_connected(self, s):
        # The CLI has exited: anything it sent would be queued by now.
        with self.assertRaises(BlockingIOError):
            conn, _ = s.accept()
            conn.close()

    @unittest.skipUnless(AS_ROOT, "needs root to chown to nobody")
    def test_cli_refuses_socket_of_another_user(self):
        run = self.p("r")
        os.mkdir(run, 0o700)
        s, path = self.listener(run)
        os.chown(path, NOBODY, NOBODY)
        r = self.naos(run, "--timeout", "2000", "deploy", "x", "--env",
                      "SECRET=hunter2", "--", "sleep", "1")
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("control socket %s is a socket owned by uid 65534"
                      % path, r.stderr)
        self.assert_never_connected(s)

    @unittest.skipUnless(AS_ROOT, "needs root to chown to nobody")
    def test_cli_refuses_run_dir_of_another_user(self):
        run = self.p("r")
        os.mkdir(run, 0o700)
        s, path = self.listener(run)
        os.chown(run, NOBODY, NOBODY)
        r = self.naos(run, "--timeout", "2000", "status")
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("run directory %s is a directory owned by uid 65534"
                      % run, r.stderr)
        self.assert_never_connected(s)

    def test_cli_refuses_world_writable_run_dir(self):
        run = self.p("r")
        os.mkdir(run)
        s, path = self.listener(run)
        os.chmod(run, 0o777)
        r = self.naos(run, "--timeout", "2000", "status")
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("chmod 700 %s" % run, r.stderr)
        self.assert_never_connected(s)

    # ---- every listener before any agent ---------------------------------

    def busy_port(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s.getsockname()[1]

    def prepare_deployed(self):
        """A store with a running deployment whose worker appends a line to
        RUN_MARKER each time it starts; the node is then stopped (the
        deployment stays wanted running). Returns (run, data, marker)."""
        with self.node() as n:
            marker = self.p("started")
            n.deploy("keeper", ["sh", "-c",
                                'echo started >> "$0"; exec sleep 1000',
                                marker])
            wait_until(lambda: os.path.exists(marker), 5, msg="first start")
            self.assertEqual(n.stop_node(), 0)
            # keep the store beyond the Node's cleanup
            data = self.p("data")
            shutil.copytree(n.data, data, symlinks=True)
        with open(marker) as f:
            self.assertEqual(f.read(), "started\n")
        return self.p("run"), data, marker

    def assert_started_nothing(self, r, marker):
        # The node has exited with its error (self.start waited for it), so
        # whatever it started would have written its line by now... and to
        # leave no doubt, the node says in its log each deployment it
        # restores.
        self.assertNotEqual(r.returncode, 0, r)
        self.assertNotIn("restored deployment", r.stderr)
        with open(marker) as f:
            self.assertEqual(f.read(), "started\n")

    def test_busy_http_port_starts_no_agent(self):
        run, data, marker = self.prepare_deployed()
        port = self.busy_port()
        argv = [NODE_BIN, "start", "--run", run, "--data", data, "--http",
                "127.0.0.1:%d" % port]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           env=self.env, stdin=subprocess.DEVNULL)
        self.assertIn("127.0.0.1:%d" % port, r.stderr)
        self.assertIn("--http", r.stderr)
        self.assert_started_nothing(r, marker)

    def test_busy_listen_port_starts_no_agent(self):
        run, data, marker = self.prepare_deployed()
        key = self.p("key")
        k = subprocess.run([NAOS_BIN, "keygen", key], capture_output=True,
                           text=True, env=self.env)
        self.assertEqual(k.returncode, 0, k)
        port = self.busy_port()
        r = self.start(run, data, "--listen", "tcp://127.0.0.1:%d" % port,
                       "--key", key)
        self.assertIn("127.0.0.1:%d" % port, r.stderr)
        self.assert_started_nothing(r, marker)


if __name__ == "__main__":
    unittest.main()
