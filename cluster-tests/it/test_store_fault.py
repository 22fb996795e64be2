# SPDX-License-Identifier: Apache-2.0
"""A failed store commit stops the node with exit 111 and nothing
acknowledged after it (issue 11 "Loop discipline", RAFT-LITE P8).

The node runs under libfiu's fiu-run (Debian fiu-utils, a test-only
dependency: .ci/packages/test), whose POSIX preload library can make
fdatasync fail on demand; fiu-ctrl turns that on once the node is up, so
the failure is a real one from the kernel call LMDB makes to commit:

  - a deploy whose commit fails is not acknowledged (the CLI does not
    exit 0), the node exits 111 saying why, and after a restart (without
    the fault) the deployment is not there while the one acknowledged
    before is;
  - a commit of the loop's before-sleep step (the events of a worker's
    restart) that fails stops the node the same way.

Each node runs in its own temp dir (the fifos fiu-run makes are in it);
the node exits by itself, its workers die with it (PR_SET_PDEATHSIG; the
harness checks that none survived)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Node, wait_until, within

FIU_RUN = shutil.which("fiu-run")
FIU_CTRL = shutil.which("fiu-ctrl")
FATAL = "fatal: unable to write the store"


def asan_build():
    """libfiu's POSIX preload library wraps malloc and friends through
    dlsym, which crashes a node built with AddressSanitizer at start
    (SIGSEGV before main). Under the sanitizers the same fatal path is
    exercised in-process instead (store_batch_test, wire_test:
    store_fault_fail_next_commit)."""
    path = shutil.which(harness.NODE_BIN) or harness.NODE_BIN
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


@unittest.skipUnless(FIU_RUN and FIU_CTRL,
                     "fiu-run/fiu-ctrl not installed (Debian fiu-utils)")
@unittest.skipIf(asan_build(), "libfiu's POSIX preload crashes an ASan "
                 "build at start (see asan_build)")
class StoreFault(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nsf", dir="/tmp")
        self.fifo = os.path.join(self.dir, "fiu")
        self.wrapper = os.path.join(self.dir, "under-fiu")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s -x -f %s %s \"$@\"\n" %
                    (FIU_RUN, self.fifo, harness.NODE_BIN))
        os.chmod(self.wrapper, 0o755)
        self.nodes = []

    def tearDown(self):
        for n in reversed(self.nodes):
            try:
                n.__exit__(None, None, None)
            except AssertionError as e:
                print("teardown:", e)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_under_fiu(self):
        asan = os.environ.get("ASAN_OPTIONS", "")
        # the preload libraries come before the ASan runtime
        env = {"ASAN_OPTIONS": (asan + ":" if asan else "") +
               "verify_asan_link_order=0"}
        saved = harness.NODE_BIN
        harness.NODE_BIN = self.wrapper
        try:
            n = Node(name="faulty", env=env)
            n.__enter__()
        finally:
            harness.NODE_BIN = saved
        self.nodes.append(n)
        return n

    def fail_fdatasync(self, n):
        """From now on every fdatasync of the node fails with EIO."""
        r = subprocess.run([FIU_CTRL, "-f", self.fifo, "-c",
                            "enable name=posix/io/sync/fdatasync,failinfo=5",
                            str(n.proc.pid)], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0, r)

    def wait_exit(self, n):
        """Waits for the node to exit by itself; returns its status."""
        wait_until(lambda: n.proc.poll() is not None, within(10),
                   msg="the node to stop")
        code = n.proc.returncode
        n.exit_code = code
        n.proc = None
        n.node_log.close()
        return code

    def test_failed_commit_acknowledges_nothing_and_exits_111(self):
        n = self.start_under_fiu()
        n.deploy("before", ["sleep", "1000"])
        n.wait_state("before", "running")
        self.fail_fdatasync(n)
        r = n.naos("deploy", "after", "--no-wait", "--", "sleep", "1000")
        self.assertNotEqual(r.code, 0, "a deploy whose commit failed was "
                            "acknowledged: %r" % (r,))
        self.assertEqual(self.wait_exit(n), 111, n.read_node_log()[-3000:])
        self.assertIn(FATAL, n.read_node_log())
        # without the fault: what was acknowledged is there, the rest not
        n.start_node()
        names = [d["name"] for d in n.status()["deployments"]]
        self.assertEqual(names, ["before"])

    def test_failed_before_sleep_commit_exits_111(self):
        n = self.start_under_fiu()
        n.deploy("crashy", ["sleep", "1000"])
        pid = n.wait_running_pid("crashy/crashy", timeout=within(10))
        self.fail_fdatasync(n)
        t0 = time.monotonic()
        # the restart's events are written by the loop's before-sleep
        # commit within NODE_EVENTS_FLUSH_MS (250 ms)
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(self.wait_exit(n), 111, n.read_node_log()[-3000:])
        self.assertIn(FATAL, n.read_node_log())
        print("\nstopped %.2f s after the worker's kill" %
              (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
