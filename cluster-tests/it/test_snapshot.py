# SPDX-License-Identifier: Apache-2.0
"""Backups and disaster recovery with real processes: `naos snapshot save
FILE` writes the applied state (deployments, placements, checkpoints) as
one checked file; `naos-node recover --from FILE --data DIR` builds a
one-voter cluster from it whose node runs every deployment and serves
every checkpoint; `naos-node recover --data DIR` turns the last voter of
a cluster that lost its majority for good into a one-voter cluster that
takes writes again and runs the deployments of the lost nodes.

Every node is reaped by PID and every temp dir removed (Node.__exit__,
exit_all); the founders' ports come from harness.free_tcp_ports (below the
ephemeral range, so tests running side by side do not collide)."""
import hashlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import promtext
from harness import (NAOS_BIN, NODE_BIN, Node, NodeTest, exit_all,
                     free_tcp_ports, keygen, member_args, pid_gone,
                     processes_with_env, wait_until, within)


def recover(*args):
    return subprocess.run([NODE_BIN, "recover", *args], capture_output=True,
                          text=True, timeout=within(30))


def check_file(test, path, doc):
    """path is a whole snapshot: its size and BLAKE2b-256 are doc's."""
    with open(path, "rb") as f:
        data = f.read()
    test.assertEqual(len(data), doc["bytes"])
    test.assertEqual(data[:8], b"NAOSSNAP")
    digest = hashlib.blake2b(data[:-32], digest_size=32).digest()
    test.assertEqual(digest, data[-32:])
    test.assertEqual(digest.hex(), doc["checksum"])
    return data


class CtlRelay:
    """A unix socket at path that relays each connection to upstream (a
    node's control socket) byte for byte: NNG's IPC framing needs no
    parsing, and the CLI dials anew for every request (`--node
    ipc://PATH`), so connection k is the save's k-th request (1 the
    begin, 2 the first page, ...). before(k) runs before connection k is
    relayed (on the relay's thread; the CLI waits meanwhile) and returns
    whether to relay it (False: closed at once). close() stops everything
    and re-raises what before() raised."""

    def __init__(self, path, upstream, before):
        self.path, self.upstream, self.before = path, upstream, before
        self.count = 0
        self.error = None
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(8)
        self.listener.settimeout(0.05)
        self.threads = [threading.Thread(target=self._accept)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.count += 1
            try:
                relay = self.before(self.count)
            except BaseException as e:  # noqa: BLE001 - re-raised by close
                self.error = self.error or e
                relay = False
            if not relay:
                conn.close()
                continue
            t = threading.Thread(target=self._relay, args=(conn,))
            self.threads.append(t)
            t.start()

    def _relay(self, conn):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sel = selectors.DefaultSelector()
        try:
            up.connect(self.upstream)
            sel.register(conn, selectors.EVENT_READ, up)
            sel.register(up, selectors.EVENT_READ, conn)
            while not self.stopping.is_set():
                for key, _ in sel.select(0.05):
                    data = key.fileobj.recv(1 << 16)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            pass  # either end went: so does the other
        finally:
            sel.close()
            conn.close()
            up.close()

    def close(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)
        self.listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
        if self.error is not None:
            raise self.error


class SnapshotOneNode(NodeTest):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nsnap", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_save_wipe_recover_runs_deployments_and_checkpoint(self):
        snap = os.path.join(self.tmp, "backup.snap")
        with self.node() as n:
            n.deploy("a1", ["sleep", "1000"])
            n.deploy("a2", ["sleep", "1000"])
            n.wait_running_pid("a1/a1", within(10))
            n.wait_running_pid("a2/a2", within(10))
            n.ok("checkpoint", "save", "a1", "-f", n.write("ck", "state-1"))
            t0 = time.monotonic()
            doc = n.ok("snapshot", "save", snap, json=True).data
            took = time.monotonic() - t0
            # + the client table: the 3 commands' records (2 deploys, a
            # save) in clients and client_age
            self.assertEqual((doc["deployments"], doc["placements"],
                              doc["checkpoints"], doc["entries"]),
                             (2, 2, 1, 5 + 2 * 3), doc)
            self.assertGreater(doc["index"], 0, doc)
            check_file(self, snap, doc)
            self.assertEqual(os.stat(snap).st_mode & 0o777, 0o600)
            print("\nsnapshot save: %d bytes, entry %d, %.3f s (node wrote "
                  "it in %d ms)" % (doc["bytes"], doc["index"], took,
                                    doc["node_write_ms"]))
            # no temporary file is left beside it, nor in the node's data
            self.assertEqual(os.listdir(self.tmp), ["backup.snap"])
            self.assertEqual(sorted(os.listdir(n.data)), ["logs", "store"])
            # an existing FILE is kept unless --force
            before = os.stat(snap)
            r = n.naos("snapshot", "save", snap)
            self.assertEqual(r.code, 100, r)
            self.assertIn("exists: give --force", r.err)
            self.assertEqual(os.stat(snap).st_mtime_ns, before.st_mtime_ns)
            # an unwritable directory is refused before the node works
            r = n.naos("snapshot", "save",
                       os.path.join(self.tmp, "nosuch", "x.snap"))
            self.assertEqual(r.code, 100, r)
            self.assertIn("unable to create a file in", r.err)
            r = n.naos("snapshot", "save", snap, "--force", json=True)
            self.assertEqual(r.code, 0, r)
            self.assertEqual(r.data["index"], doc["index"])
            doc = r.data
            index = doc["index"]
            first = os.path.join(self.tmp, "first.snap")
            shutil.copyfile(snap, first)

            n.stop_node()
            # the data wiped (logs too: the node is new)
            shutil.rmtree(n.data)
            # a cut copy is refused, and creates nothing
            cut = os.path.join(self.tmp, "cut.snap")
            with open(snap, "rb") as f, open(cut, "wb") as g:
                g.write(f.read()[:-1])
            r = recover("--from", cut, "--data", n.data)
            self.assertEqual(r.returncode, 100, r)
            self.assertIn("truncated", r.stderr)
            self.assertFalse(os.path.exists(n.data))
            # a directory that is not ours is refused
            os.mkdir(n.data)
            with open(os.path.join(n.data, "mine"), "w") as f:
                f.write("x")
            r = recover("--from", snap, "--data", n.data)
            self.assertEqual(r.returncode, 100, r)
            self.assertIn("is not empty and is not a naos-node data", r.stderr)
            shutil.rmtree(n.data)

            r = rec = recover("--from", snap, "--data", n.data)
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("2 deployments placed on this node", r.stdout)
            self.assertIn("the recovery is entry %d" % (index + 1), r.stdout)
            # ours now: refused without --force
            r = recover("--from", snap, "--data", n.data)
            self.assertEqual(r.returncode, 100, r)
            self.assertIn("give --force", r.stderr)

            n.start_node()
            pid1 = n.wait_running_pid("a1/a1", within(10))
            n.wait_running_pid("a2/a2", within(10))
            self.assertGreater(pid1, 0)
            r = n.ok("checkpoint", "load", "a1")
            self.assertEqual(r.out, "state-1")
            # the recovered node takes writes, at indexes after the
            # recovery's entry
            n.deploy("a3", ["sleep", "1000"])
            n.wait_running_pid("a3/a3", within(10))
            doc2 = n.ok("snapshot", "save", snap, "--force", json=True).data
            self.assertGreater(doc2["index"], index + 1, doc2)
            self.assertEqual(doc2["deployments"], 3, doc2)
            self.assertNotEqual(doc2["cluster_id"], doc["cluster_id"])

            # the older backup again, over this node's own data (which
            # applied more since): with --force, keeping its node id
            node_id = re.search(r"node ([0-9a-f]{16})", rec.stdout).group(1)
            n.stop_node()
            r = recover("--from", first, "--data", n.data, "--force")
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("node %s" % node_id, r.stdout)
            self.assertIn("the recovery is entry %d" % (index + 1), r.stdout)
            n.start_node()
            n.wait_running_pid("a1/a1", within(10))
            self.assertEqual(n.naos("status", "a3").code, 100)

    def test_node_lost_mid_fetch_exits_111_and_leaves_file_as_it_was(self):
        # A save whose node goes away between two pages: killed (the next
        # page finds nobody), or restarted (the new node has no such
        # save). Either way exit 111 (try again: nothing changed), saying
        # after how many bytes and what became of FILE, and no file is
        # left: FILE absent, or as it was with --force.
        with self.node() as n:
            for i in range(3):  # about 3 MiB of state: 3 pages
                name = "big%d" % i
                n.deploy(name, ["sleep", "1000"])
                n.wait_running_pid("%s/%s" % (name, name), within(10))
                n.ok("checkpoint", "save", name, "-f",
                     n.write("ck%d" % i, "x" * (1000 * 1024), 0o644))
            ctl = os.path.join(n.run, "ctl.sock")
            relay_path = os.path.join(self.tmp, "relay.sock")
            snap = os.path.join(self.tmp, "backup.snap")

            def save(before, *opts):
                relay = CtlRelay(relay_path, ctl, before)
                try:
                    p = subprocess.run(
                        [NAOS_BIN, "--node", "ipc://" + relay_path,
                         "--timeout", "5s", "snapshot", "save", snap, *opts],
                        capture_output=True, text=True, timeout=within(60),
                        env=n.cli_env)
                finally:
                    relay.close()
                return p

            with open(snap, "w") as f:
                f.write("the old backup")

            def restarted(k):
                if k == 3:  # the second page: a new node answers it
                    n.kill9()
                    n.start_node()
                return True
            p = save(restarted, "--force")
            self.assertEqual(p.returncode, 111, p)
            self.assertRegex(p.stderr, r"naos-node dropped the save after "
                             r"1048576 of \d+ bytes \(no snapshot save")
            self.assertIn("%s is left as it was" % snap, p.stderr)
            self.assertEqual(p.stderr.count("naos: fatal:"), 1, p.stderr)
            self.assertEqual(sorted(os.listdir(self.tmp)), ["backup.snap"])
            with open(snap) as f:
                self.assertEqual(f.read(), "the old backup")
            os.unlink(snap)

            def killed(k):
                if k == 3:  # the second page: the node is gone
                    n.kill9()
                return True
            p = save(killed)
            self.assertEqual(p.returncode, 111, p)
            self.assertRegex(p.stderr, r"naos-node went away after 1048576 "
                             r"of \d+ bytes \(unable to reach naos-node")
            self.assertIn("nothing was written to %s" % snap, p.stderr)
            self.assertIn("run `naos snapshot save` again", p.stderr)
            self.assertEqual(p.stderr.count("naos: fatal:"), 1, p.stderr)
            self.assertEqual(sorted(os.listdir(self.tmp)), [])
            n.start_node()

            # and through the relay untouched, the save works
            p = save(lambda k: True)
            self.assertEqual(p.returncode, 0, p)
            self.assertEqual(sorted(os.listdir(self.tmp)), ["backup.snap"])
            n.wait_running_pid("big0/big0", within(10))

    def test_recover_usage(self):
        r = recover()
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("give --data DIR", r.stderr)
        r = recover("--data", os.path.join(self.tmp, "x"), "--force")
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("--force goes with --from", r.stderr)
        r = recover("--data", self.tmp)
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("is not a naos-node data directory", r.stderr)
        bad = os.path.join(self.tmp, "bad.snap")
        with open(bad, "wb") as f:
            f.write(b"NAOSSNAP" + b"\0\0\0\2" + b"\0" * 100)
        r = recover("--from", bad, "--data", os.path.join(self.tmp, "d"))
        self.assertEqual(r.returncode, 100, r)
        self.assertIn("version 2, but this naos reads version 1", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "d")))
        r = subprocess.run([NODE_BIN, "recover", "--help"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("--from FILE", r.stdout)
        r = subprocess.run([NAOS_BIN, "--help"], capture_output=True,
                           text=True, timeout=10)
        self.assertIn("snapshot save FILE", r.stdout)


def raft_state(node):
    fams = node.metrics()
    return {k: promtext.value(fams, "naos_raft_" + k)
            for k in ("voters", "term", "leader", "commit_index",
                      "applied_index")}


class SnapshotMajorityLost(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nsnapc", dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(3)]
        self.founders = [Node(name="s%d" % i,
                              extra_args=member_args(self.addrs, i, self.key))
                         for i in range(3)]
        self.started = []
        self.traces = []

    def tearDown(self):
        problems = exit_all(self.started)
        shutil.rmtree(self.dir, ignore_errors=True)
        for t in self.traces:
            left = processes_with_env(t)
            if left:
                problems.append("workers outlived the cluster: %r" % left)
        if problems:
            raise AssertionError("teardown: " + "; ".join(problems))

    def wait_leader(self, timeout):
        def one():
            st = [raft_state(n) for n in self.founders]
            leaders = [(n, s) for n, s in zip(self.founders, st)
                       if s["leader"] == 1]
            # and it has applied its own no-op: it takes commands
            if (len(leaders) == 1 and all(s["voters"] == 3 for s in st)
                    and leaders[0][1]["commit_index"] > 0 and
                    leaders[0][1]["applied_index"] ==
                    leaders[0][1]["commit_index"]):
                return leaders[0][0]
            return None
        return wait_until(one, timeout, interval=0.05,
                          msg="one leader of 3 voters")

    def test_forming_node_has_nothing_to_save(self):
        n = self.founders[0]
        n.__enter__()
        self.started.append(n)
        snap = os.path.join(self.dir, "x.snap")
        r = n.naos("snapshot", "save", snap)
        self.assertEqual(r.code, 1, r)
        self.assertIn("is not a member of any log yet", r.err)
        self.assertFalse(os.path.exists(snap))
        self.assertEqual([f for f in os.listdir(self.dir)
                          if f.startswith(".x.snap")], [])

    def test_follower_survives_recovers_and_runs_the_lost_deployments(self):
        self.scenario(survivor_leads=False)

    def test_leader_survives_recovers_and_runs_the_lost_deployments(self):
        self.scenario(survivor_leads=True)

    def scenario(self, survivor_leads):
        """Two of three voters killed for good; the third (the leader, or
        a follower) refuses writes, stops what it ran once its lease runs
        out, is recovered with `recover --data`, and runs everything as a
        one-voter cluster."""
        for n in self.founders:
            n.__enter__()
            self.started.append(n)
        leader = self.wait_leader(within(20))
        pids = {}
        for n in self.founders:  # one deployment pinned on each node
            trace = "NAOS_IT_SNAP_DEP=" + uuid.uuid4().hex
            self.traces.append(trace)
            name = "on" + n.name
            # a leader may still be catching up a moment (busy: retry)
            wait_until(lambda: leader.naos(
                "deploy", name, "--no-wait", "--on", n.name, "--env", trace,
                "--", "sleep", "1000").code == 0, within(10),
                interval=0.1, msg="deploy %s accepted" % name)
            pids[name] = n.wait_running_pid("%s/%s" % (name, name),
                                            within(10))
        survivor = leader if survivor_leads else \
            [n for n in self.founders if n is not leader][0]
        mine = "on" + survivor.name
        lost = [n for n in self.founders if n is not survivor]
        gone = "on%s/on%s" % (lost[0].name, lost[0].name)
        # a checkpoint of a deployment whose node will be lost
        leader.ok("checkpoint", "save", gone, "-f",
                  leader.write("ck", "lost-node-state"))
        commit = raft_state(leader)["commit_index"]
        wait_until(lambda: all(raft_state(n)["applied_index"] >= commit
                               for n in self.founders), within(10),
                   msg="every node applied everything")

        t0 = time.monotonic()
        for n in lost:
            n.kill9()  # for good
        # writes fail fast on the survivor: no majority, no leader
        seen = []
        r = None
        deadline = time.monotonic() + within(10)
        while time.monotonic() < deadline:
            t1 = time.monotonic()
            # (a survivor that led answers its deploy 'outcome unknown'
            # when it steps down: the CLI retries that until --timeout)
            r = survivor.naos("--timeout", "1s", "deploy", "w", "--no-wait",
                              "--", "sleep", "1000", timeout=within(30))
            seen.append((round(time.monotonic() - t1, 2), r.code,
                         r.err.strip()[:160]))
            if r.code != 0 and "no leader" in r.err:
                break
            self.assertNotEqual(r.code, 0, r)
            time.sleep(0.2)
        print("\nwrites on the survivor (%s) after kill -9 of 2 of 3 voters "
              "(s, exit, error):" % ("the leader" if survivor_leads
                                     else "a follower"))
        for s in seen:
            print("  %r" % (s,))
        self.assertIn("no leader", r.err, seen)
        # 111: no leader, nothing changed; 112: the leader's own deploy,
        # unknown when it stepped down, still unknown at --timeout
        self.assertIn(r.code, (111, 112), r)
        self.assertLess(seen[-1][0], within(2), seen)
        print("  'no leader' %.2f s after the kill" %
              (time.monotonic() - t0))
        # once membership sees the two dead, the refusal says why
        lost_msg = "1 of its 3 voters is alive, and electing one takes 2"

        def says_lost():
            r = survivor.naos("deploy", "w", "--no-wait", "--", "sleep",
                              "1000")
            self.assertEqual(r.code, 111, r)  # no leader (UNAVAILABLE)
            return lost_msg in r.err and r
        r = wait_until(says_lost, within(20), interval=0.2,
                       msg="the refusal names the lost majority")
        self.assertIn("naos-node recover --help", r.err)
        print("  %r %.2f s after the kill" % (r.err.strip()[:140],
                                               time.monotonic() - t0))
        # reads answer; what ran here stopped at its lease (no majority
        # renews it: the other side may have moved it), and says why
        self.assertEqual(survivor.naos("status", mine).code, 0)
        wait_until(lambda: processes_with_env(
            self.traces[self.founders.index(survivor)]) == [], within(10),
            interval=0.1, msg="the survivor's deployment stopped at its "
            "lease")
        self.assertTrue(pid_gone(pids[mine]))
        self.assertTrue(survivor.events(kind="fenced"))
        # and its status says so, and why
        r = survivor.naos("status")
        self.assertIn("runs nothing: its lease ran out", r.out, r)
        doc = survivor.ok("status", json=True).data
        self.assertTrue(doc["cluster"]["fenced"], doc["cluster"])
        # a backup can still be taken of what the survivor applied
        snap = os.path.join(self.dir, "minority.snap")
        doc = survivor.ok("snapshot", "save", snap, json=True).data
        self.assertEqual(doc["deployments"], 3, doc)
        check_file(self, snap, doc)

        # recover refuses while the node runs (it holds the store)
        r = recover("--data", survivor.data)
        self.assertEqual(r.returncode, 111, r)
        self.assertIn("in use by another naos-node", r.stderr)
        survivor.stop_node()
        r = recover("--data", survivor.data)
        self.assertEqual(r.returncode, 0, r)
        print(r.stdout)
        self.assertIn("3 deployments placed on this node (2 moved", r.stdout)
        # restarted with its own address and key only, or (the leader's
        # case) with the founders' very command line: the stored voters
        # (itself) win over --bootstrap-expect, and the dead seeds are
        # only dialled in vain
        if not survivor_leads:
            i = self.founders.index(survivor)
            survivor.extra_args = ["--listen", self.addrs[i], "--key",
                                   self.key]
        t2 = time.monotonic()
        survivor.start_node()
        wait_until(lambda: raft_state(survivor)["leader"] == 1, within(10),
                   msg="the survivor leads its one-voter cluster")
        st = raft_state(survivor)
        self.assertEqual(st["voters"], 1, st)
        # every deployment runs here, the lost nodes' too
        for name in ("ons0", "ons1", "ons2"):
            survivor.wait_running_pid("%s/%s" % (name, name), within(10))
        print("recovered: leader and all 3 deployments running %.2f s "
              "after start" % (time.monotonic() - t2))
        r = survivor.ok("checkpoint", "load", gone)
        # the deploy refused while the majority was lost never happened
        self.assertEqual(survivor.naos("status", "w").code, 100)
        self.assertEqual(r.out, "lost-node-state")
        # and it takes writes again
        trace = "NAOS_IT_SNAP_DEP=" + uuid.uuid4().hex
        self.traces.append(trace)
        survivor.ok("deploy", "w2", "--no-wait", "--env", trace, "--",
                    "sleep", "1000")
        survivor.wait_running_pid("w2/w2", within(10))
        nodes = survivor.ok("status", json=True).data
        names = sorted(d["name"] for d in nodes["deployments"])
        self.assertIn("w2", names)


if __name__ == "__main__":
    unittest.main()
