# SPDX-License-Identifier: Apache-2.0
"""The lease guardian (node/proc/guardian.h, wired in node/node_guardian.c):
a process of every node's own that SIGKILLs each worker's process group
when the node dies, stops without a kill when the node stops cleanly, is
replaced when it is killed, and is never taken for an orphan.

The figure to look at is the time from the node's death to the last
process of a worker's group gone: printed here (the bound asserted is a
generous correctness bound, not the target), measured over 20 kills by
bench/guardian/kill9.py."""
import os
import re
import select
import signal
import time
import unittest

from harness import (NodeTest, pid_alive, pid_gone, proc_starttime,
                     proc_state, wait_until, within)

# argv: DIR FORKS. The worker starts, in its own process group:
#   - a grandchild that ignores SIGTERM and forks FORKS short-lived
#     children, one every 20 ms (bounded; FORKS 0: it just sleeps);
#   - a process that cleared its environment (`env -i`): nothing that looks
#     for the node's marker in environments can find it;
# writes their pids (forker.pid, clean.pid), then its own (ready), and
# sleeps. Files are written whole (write, rename).
AGENT = r'''
import os, signal, subprocess, sys, time
d, forks = sys.argv[1], int(sys.argv[2])
def put(name, value):
    tmp = os.path.join(d, name + ".tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % value)
    os.rename(tmp, os.path.join(d, name))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(w, b"x")
    os.close(w)
    for i in range(forks):
        if os.fork() == 0:
            time.sleep(0.1)
            os._exit(0)
        while True:  # reap the ones done
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.02)
    while True:
        time.sleep(1000)
os.close(w)
os.read(r, 1)  # its SIGTERM is ignored from here on
put("forker.pid", pid)
clean = subprocess.Popen(["env", "-i", "/bin/sh", "-c",
                          "exec /bin/sleep 1000"])
put("clean.pid", clean.pid)
put("ready", os.getpid())
while True:
    time.sleep(1000)
'''

# Each of the first 4 runs leaves a grandchild in a session of its own
# (the node's orphan sweep kills it once it is reparented to the node) and
# exits 1; later runs sleep.
CRASHER = r'''
import os, sys, time
if int(os.environ["NAOS_RESTART_COUNT"]) >= 4:
    while True:
        time.sleep(1000)
if os.fork() == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "1000"])
time.sleep(0.1)
sys.exit(1)
'''

# The worker logs SIGTERM, then exits 0 after writing "stopped": the
# normal stop path, which a kill by the guardian would cut short.
POLITE = r'''
import os, signal, sys, time
log = sys.argv[1]
def put(what):
    with open(log, "a") as f:
        f.write("%s %d\n" % (what, os.getpid()))
def on_term(signo, frame):
    put("stopping")
    time.sleep(0.1)
    put("stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
put("up")
while True:
    time.sleep(1000)
'''


def running(pid, starttime):
    """pid is still the process started at starttime, and not a zombie (a
    zombie runs nothing: it waits for its parent, here often the
    container's init, to reap it)."""
    return proc_state(pid) not in (None, "Z", "X") and \
        proc_starttime(pid) == starttime


def group_members(pgid):
    """Live (not zombie) processes whose process group is pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(")") + 2:].split()
        if int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def worker_group(n, name, forks):
    """Deploys AGENT as `name` (FORKS forks) on node n and waits until it
    is up. Returns (worker pid, [(pid, starttime)] of every process the
    test follows: the worker, the forker, the one with no environment)."""
    d = n.path(name)
    os.mkdir(d)
    agent = n.write("agent.py", AGENT)
    n.deploy(name, ["python3", agent, d, str(forks)], "--shutdown", "1s")
    wait_until(lambda: os.path.exists(os.path.join(d, "ready")),
               within(10), msg="the worker's processes started")
    pids = {}
    for f in ("ready", "forker.pid", "clean.pid"):
        with open(os.path.join(d, f)) as fh:
            pids[f] = int(fh.read())
    wpid = pids["ready"]
    return wpid, [(p, proc_starttime(p)) for p in pids.values()]


def kill9_and_measure(n, pgid, followed, bound_s=2.0):
    """SIGKILLs node n (reaped) and returns (seconds from its death, seen
    through its pidfd, to the last live process of group pgid or of
    followed [(pid, starttime)] gone, zombies counting as gone; the
    processes left after bound_s, or [])."""
    fd = os.pidfd_open(n.proc.pid)
    try:
        os.kill(n.proc.pid, signal.SIGKILL)
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(10000), "the node did not die within 10 s of SIGKILL"
        t0 = time.monotonic()
        while True:
            left = group_members(pgid) + [
                pid for pid, st in followed if running(pid, st)]
            took = time.monotonic() - t0
            if not left or took > bound_s:
                return took, sorted(set(left))
            time.sleep(0.001)
    finally:
        os.close(fd)
        n.kill9()  # reaps it


def kill_followed(pgid, followed):
    """Cleanup after a failure: nothing of the test may outlive it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    for pid, st in followed:
        if not pid_gone(pid, st):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


class Guardian(NodeTest):

    def test_kill9_of_the_node_kills_every_process_of_its_workers(self):
        with self.node() as n:
            gpid = n.guardian()
            self.assertIsNotNone(gpid, "the node's guardian")
            wpid, followed = worker_group(n, "flock", forks=2000)
            try:
                self.assertEqual(os.getpgid(wpid), wpid)
                # the forker keeps making processes in the worker's group
                wait_until(lambda: len(group_members(wpid)) >= 4, within(5),
                           msg="the group's forker at work")
                clean = followed[2][0]

                def no_marker():
                    with open("/proc/%d/environ" % clean, "rb") as f:
                        return n.marker.encode() not in f.read()
                wait_until(no_marker, within(5), msg="env -i at work")
                took, left = kill9_and_measure(n, wpid, followed)
                print("\nnode SIGKILLed: every process of the worker's "
                      "group gone %.1f ms after the node's death" %
                      (took * 1e3))
                self.assertEqual(left, [], "still alive %.1f s after the "
                                 "node died" % took)
                wait_until(lambda: pid_gone(gpid) or not pid_alive(gpid),
                           within(2), msg="the guardian gone")
            finally:
                kill_followed(wpid, followed)
            self.assertIn("the node closed the channel without a stop",
                          n.read_node_log())

    def test_clean_stop_leaves_no_guardian_and_it_kills_nothing(self):
        with self.node() as n:
            gpid = n.guardian()
            self.assertIsNotNone(gpid)
            agent = n.write("polite.py", POLITE)
            log = n.path("polite.log")
            n.deploy("polite", ["python3", agent, log])
            wpid = n.wait_running_pid("polite/polite")
            wait_until(lambda: "up %d" % wpid in n.lines("polite.log"),
                       within(5), msg="the worker up")
            self.assertEqual(n.stop_node(), 0)
            # the node reaped it before it exited: not even a zombie
            self.assertTrue(pid_gone(gpid), "guardian %d left" % gpid)
            text = n.read_node_log()
            self.assertIn("guardian pid %d stopped (exit 0: it killed "
                          "nothing)" % gpid, text)
            self.assertNotIn("SIGKILL process group", text)
            # the worker went by its own stop path, not by a SIGKILL
            self.assertEqual(n.lines("polite.log"),
                             ["up %d" % wpid, "stopping %d" % wpid,
                              "stopped %d" % wpid])

    def test_killed_guardian_is_replaced_and_watches_every_worker(self):
        with self.node() as n:
            gpid = n.guardian()
            self.assertIsNotNone(gpid)
            wpid, followed = worker_group(n, "kept", forks=0)
            try:
                os.kill(gpid, signal.SIGKILL)
                new = wait_until(lambda: n.guardian() not in (None, gpid) and
                                 n.guardian(), within(5),
                                 msg="a new guardian")
                text = n.read_node_log()
                self.assertIn("the guardian (pid %d) is gone (ended by a "
                              "signal): starting a new one and watching the "
                              "1 live worker(s) again" % gpid, text)
                self.assertIn("guardian pid %d started (replaces pid %d)" %
                              (new, gpid), text)
                # the deployment runs on, the same worker
                self.assertEqual(n.node_at("kept/kept")["pid"], wpid)
                self.assertEqual(n.dep("kept")["state"], "running")
                for pid, st in followed:
                    self.assertTrue(running(pid, st), "pid %d" % pid)
                # the new guardian watches it: the node's death kills it
                took, left = kill9_and_measure(n, wpid, followed)
                print("\nafter a new guardian: worker group gone %.1f ms "
                      "after the node's death" % (took * 1e3))
                self.assertEqual(left, [])
                wait_until(lambda: not pid_alive(new), within(2),
                           msg="the new guardian gone")
            finally:
                kill_followed(wpid, followed)

    def test_guardian_that_keeps_dying_stops_the_node(self):
        # A replacement lost within a second of its start is not replaced
        # again: the node stops (exit 111) and kills every worker. Each new
        # guardian is killed as soon as it shows (bounded tries: on a slow
        # machine one may outlive its first second and be replaced).
        with self.node() as n:
            wpid, followed = worker_group(n, "doomed", forks=0)
            try:
                killed = []
                for _ in range(10):
                    g = wait_until(lambda: n.proc.poll() is not None or
                                   n.guardian() not in [None] + killed and
                                   n.guardian(), within(5),
                                   msg="a new guardian, or the node gone")
                    if g is True:
                        break
                    os.kill(g, signal.SIGKILL)
                    killed.append(g)
                wait_until(lambda: n.proc.poll() is not None, within(5),
                           msg="the node stopped")
                self.assertEqual(n.stop_node(), 111)
                self.assertGreaterEqual(len(killed), 2)
                self.assertIn("it had run under a second: not replaced "
                              "again", n.read_node_log())
                wait_until(lambda: not group_members(wpid) and not any(
                    running(p, st) for p, st in followed), within(2),
                    msg="every process of the worker gone")
            finally:
                kill_followed(wpid, followed)

    def test_orphan_sweep_leaves_the_guardian_alone(self):
        with self.node() as n:
            gpid = n.guardian()
            self.assertIsNotNone(gpid)
            agent = n.write("crasher.py", CRASHER)
            n.deploy("crashy", ["python3", agent], "--max-restarts", "20",
                     "--window", "60s")
            # each exit: a reap, SIGCHLD, a sweep pass that kills the
            # escaped grandchild
            n.wait_worker("crashy/crashy", lambda w: w["restarts"] == 4 and
                          w["state"] == "running", within(20), "4 restarts")

            def orphans_killed():
                return sum(int(m) for m in re.findall(
                    r"killed (\d+) orphaned process", n.read_node_log()))
            wait_until(lambda: orphans_killed() == 4, within(5),
                       msg="the sweep killing the 4 orphans")
            self.assertEqual(n.guardian(), gpid)
            self.assertNotIn("is gone", n.read_node_log())
            n.ok("stop", "crashy")
            n.wait_state("crashy", "stopped", timeout=within(5))


if __name__ == "__main__":
    unittest.main()


def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def certify_plan(node_id, instance, key, peers):
    """A CertifyPlan (proto/forward.proto), encoded by hand."""
    import struct
    b = (b"\x09" + struct.pack("<Q", node_id) +
         b"\x11" + struct.pack("<Q", 0) +
         b"\x19" + struct.pack("<Q", instance) +
         b"\x22" + _varint(len(key)) + key.encode())
    for p in peers:
        b += b"\x2a" + _varint(len(p)) + p.encode()
    return b


class Certify(unittest.TestCase):
    """`naos-node certify` (node/node_certify.c), which a dead node's
    guardian execs: it tells the members only when the plan is its own
    run's (a later start of the node rewrote it while a slow guardian of
    the earlier run caught up: that run must never be certified dead)."""

    def setUp(self):
        import shutil
        import socket
        import tempfile
        from harness import keygen
        self.dir = tempfile.mkdtemp(prefix="ncert", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.key = keygen(os.path.join(self.dir, "k"))
        self.srv = socket.socket()
        self.addCleanup(self.srv.close)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.addr = "tcp://127.0.0.1:%d" % self.srv.getsockname()[1]

    def certify(self, plan_instance, run_instance):
        import subprocess
        from harness import NODE_BIN
        plan = os.path.join(self.dir, "certify.plan")
        with open(plan, "wb") as f:
            f.write(certify_plan(0x77, plan_instance, self.key, [self.addr]))
        return subprocess.Popen(
            [NODE_BIN, "certify", "--plan", plan, "--instance",
             "%016x" % run_instance], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def test_its_own_run_is_told(self):
        p = self.certify(0xabc, 0xabc)
        self.srv.settimeout(within(5))
        conn, _ = self.srv.accept()
        with conn:
            conn.settimeout(within(5))
            self.assertEqual(conn.recv(8), b"\x00SP\x00\x00\x50\x00\x00")
            conn.sendall(b"\x00SP\x00\x00\x51\x00\x00")
            frame = b""
            while len(frame) < 8:
                frame += conn.recv(8 - len(frame))
            self.assertGreater(int.from_bytes(frame, "big"), 0)
        out, err = p.communicate(timeout=within(10))
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("told 1 of 1 members", err)

    def test_another_runs_plan_tells_nobody(self):
        p = self.certify(0xabc, 0xdef)
        out, err = p.communicate(timeout=within(10))
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("the plan is of another run", err)
        self.srv.settimeout(0.5)
        import socket
        with self.assertRaises(socket.timeout):
            self.srv.accept()

    def test_bad_arguments_are_refused(self):
        import subprocess
        from harness import NODE_BIN
        for args in (["--plan", "x"], ["--plan", "x", "--instance", "0"],
                     ["--plan", "x", "--instance", "zz"]):
            p = subprocess.run([NODE_BIN, "certify", *args],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 100, (args, p))
            self.assertIn("internal command", p.stderr)
