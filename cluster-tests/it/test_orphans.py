# SPDX-License-Identifier: Apache-2.0
"""Process hygiene: orphaned grandchildren never outlive their worker."""
import os
import unittest

from harness import NodeTest, pid_gone, proc_starttime, proc_state, wait_until

# argv: PIDFILE MODE. On its first run (NAOS_RESTART_COUNT=0) the worker
# forks a grandchild that sleeps, writes its pid to PIDFILE, then:
#   setsid-crash: grandchild in its own session; the worker exits 1
#   group-stop:   grandchild in the worker's group, ignoring SIGTERM; the
#                 worker waits (to be stopped)
#   daemon-crash: double fork + setsid (a classic daemon, reparented to the
#                 node at once); the worker exits 1
# Later runs just sleep.
AGENT = r'''
import os, signal, sys, time
pidfile, mode = sys.argv[1], sys.argv[2]
if os.environ.get("NAOS_RESTART_COUNT") != "0":
    while True:
        time.sleep(1000)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    if mode in ("setsid-crash", "daemon-crash"):
        os.setsid()
    if mode == "daemon-crash":
        if os.fork() != 0:
            os._exit(0)
    if mode == "group-stop":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # kept across exec
    os.write(w, str(os.getpid()).encode())
    os.close(w)
    os.execvp("sleep", ["sleep", "1000"])
os.close(w)
gc = int(os.read(r, 64).decode())
os.close(r)
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % gc)
os.rename(pidfile + ".tmp", pidfile)
if mode == "group-stop":
    while True:
        time.sleep(1000)
if mode == "daemon-crash":
    os.waitpid(pid, 0)
time.sleep(0.1)
sys.exit(1)
'''


class Orphans(NodeTest):

    def grandchild(self, n, name="gc.pid"):
        text = wait_until(lambda: n.read(name), 5, msg="grandchild pid file")
        pid = int(text.strip())
        return pid, proc_starttime(pid)

    def crash_case(self, mode):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            n.deploy("orph", ["python3", agent, n.path("gc.pid"), mode],
                     "--max-restarts", "5", "--window", "60s")
            gc, start = self.grandchild(n)
            # the worker crashed and was restarted
            n.wait_worker("orph/orph", lambda w: w["restarts"] >= 1 and
                          w["state"] == "running", 5, "restarted")
            wait_until(lambda: pid_gone(gc, start), 3, 0.02,
                       "grandchild %d gone (state now %r)" %
                       (gc, proc_state(gc)))
            w = n.node_at("orph/orph")
            self.assertEqual(w["restarts"], 1, w)
            self.assertEqual(w["last_exit"]["reason"], "exit:1")
            self.assertNotEqual(n.dep("orph")["state"], "failed")

    def test_setsid_grandchild_of_crashed_worker_is_killed(self):
        self.crash_case("setsid-crash")

    def test_daemonized_grandchild_of_crashed_worker_is_killed(self):
        self.crash_case("daemon-crash")

    def test_group_grandchild_dies_with_stopped_parent(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            n.deploy("grp", ["python3", agent, n.path("gc.pid"), "group-stop"],
                     "--shutdown", "3s")
            gc, start = self.grandchild(n)
            wpid = n.wait_running_pid("grp/grp")
            # same process group as the worker
            self.assertEqual(os.getpgid(gc), os.getpgid(wpid))
            self.assertEqual(os.getpgid(wpid), wpid,
                             "the worker leads its own process group")
            self.assertEqual(os.getsid(wpid), wpid,
                             "the worker leads its own session")
            n.ok("stop", "grp")
            n.wait_state("grp", "stopped", timeout=5)
            wait_until(lambda: pid_gone(wpid), 3, 0.02, "worker gone")
            wait_until(lambda: pid_gone(gc, start), 3, 0.02,
                       "grandchild %d gone (state now %r)" %
                       (gc, proc_state(gc)))

    def test_no_zombies_left_under_the_node(self):
        # children of the node after a few crash/restart cycles: only live
        # workers (and the guardian), never a zombie
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            n.deploy("z", ["python3", agent, n.path("gc.pid"),
                           "setsid-crash"], "--max-restarts", "5",
                     "--window", "60s")
            self.grandchild(n)
            wpid = n.wait_worker("z/z", lambda w: w["restarts"] >= 1 and
                                 w["pid"], 5, "restarted")["pid"]
            node_pid = n.proc.pid

            def kids():
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
                    if int(rest[1]) == node_pid:
                        out.append((int(d), rest[0]))
                return out

            # and the node's guardian, which the sweep must leave alone
            gpid = n.guardian()
            self.assertIsNotNone(gpid, "the node's guardian")

            def only_worker():
                k = kids()
                return k if sorted(p for p, _ in k) == sorted([wpid, gpid]) \
                    and all(st != "Z" for _, st in k) else None
            only_worker.__name__ = ("the node's only children to be the "
                                    "worker and the guardian")
            try:
                wait_until(only_worker, 3, 0.05)
            except AssertionError:
                self.fail("children of the node: %r, worker %d" %
                          (kids(), wpid))


if __name__ == "__main__":
    unittest.main()
