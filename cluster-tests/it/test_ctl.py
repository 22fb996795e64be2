# SPDX-License-Identifier: Apache-2.0
"""test_ctl.py: the control endpoint under a kept connection and at its
size limit (issue 9).

- Every request on one kept connection gets its reply: 50,000 pings one
  after the other, and 20,000 status requests 8 at a time, on ONE
  connection (`naos_ctl_flood`, a req0 client that dials once). Before the
  endpoint sent replies through rep0 contexts, a reply sent while the
  previous one was still in flight on the same connection was dropped
  (about one in 1,000-5,000), and the client waited forever.
- A request over the limit gets an INVALID reply that names the limit,
  instead of a closed connection; the CLI refuses to send one at all.
"""
import json
import os
import resource
import subprocess
import unittest

from harness import NAOS_BIN, NodeTest

FLOOD_BIN = os.environ.get("NAOS_CTL_FLOOD_BIN", "naos_ctl_flood")
LIMIT = 4 << 20  # CTL_MAX_REQUEST (node/ctl/ctl.h)
SLACK = 1 << 20  # CTL_REQUEST_SLACK


def flood(url, *args, timeout=600):
    p = subprocess.run([FLOOD_BIN, *args[:1], url, *map(str, args[1:])],
                       capture_output=True, text=True, timeout=timeout)
    out = p.stdout.strip().splitlines()
    return p.returncode, (json.loads(out[-1]) if out else None), p.stderr


class KeptConnection(NodeTest):
    def test_every_ping_on_one_connection_is_answered(self):
        with self.node() as n:
            url = "ipc://%s/ctl.sock" % n.run
            code, doc, err = flood(url, "flood", 50000, 1, "ping")
            self.assertEqual(code, 0, "a reply was lost: %s %r" % (err, doc))
            self.assertEqual(doc["answered"], 50000, doc)
            self.assertEqual(doc["errors"], 0, doc)

    def test_every_pipelined_status_on_one_connection_is_answered(self):
        with self.node() as n:
            n.deploy("w", ["sleep", "1000"])
            url = "ipc://%s/ctl.sock" % n.run
            code, doc, err = flood(url, "flood", 20000, 8, "status")
            self.assertEqual(code, 0, "a reply was lost: %s %r" % (err, doc))
            self.assertEqual(doc["answered"], 20000, doc)
            self.assertEqual(doc["errors"], 0, doc)
            # the node still serves a fresh client afterwards
            n.ok("--timeout", "60s", "ping", timeout=90)


class SizeLimit(NodeTest):
    def test_request_over_the_limit_is_answered_invalid(self):
        with self.node() as n:
            url = "ipc://%s/ctl.sock" % n.run
            code, doc, err = flood(url, "size", LIMIT + 1000)
            self.assertEqual(code, 0, err)
            self.assertTrue(doc["answered"],
                            "no reply to a %d-byte request: %r" %
                            (LIMIT + 1000, doc))
            self.assertEqual(doc["code"], 1, doc)  # INVALID
            self.assertIn("exceeds the %d-byte" % LIMIT, doc["error"])
            self.assertIn("%d bytes" % doc["sent_bytes"], doc["error"])
            # at the limit itself the request is served (a ping's name is
            # ignored)
            code, doc, err = flood(url, "size", LIMIT)
            self.assertEqual(code, 0, err)
            self.assertTrue(doc["answered"], doc)
            self.assertEqual(doc["code"], 0, doc)
            # beyond the slack NNG closes the connection: documented in
            # ctl.h, and the node goes on serving
            code, doc, err = flood(url, "size", LIMIT + SLACK + 1000)
            self.assertEqual(code, 0, err)
            self.assertFalse(doc["answered"], doc)
            n.ok("--timeout", "60s", "ping", timeout=90)

    def test_cli_refuses_to_send_a_request_over_the_limit(self):
        with self.node() as n:
            # 40 env values of 120 KiB: a 4.8 MB deploy request. argv may
            # hold that much only with a larger stack limit (ARG_MAX is a
            # quarter of it), so the CLI runs with one.
            big = "x" * (120 << 10)
            args = [NAOS_BIN, "--run", n.run, "deploy", "big"]
            for i in range(40):
                args += ["--env", "V%d=%s" % (i, big)]
            args += ["--", "sleep", "1000"]

            def more_stack():
                soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
                want = 64 << 20
                if hard != resource.RLIM_INFINITY and hard < want:
                    want = hard
                resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
            try:
                p = subprocess.run(args, capture_output=True, text=True,
                                   timeout=30, env=n.cli_env,
                                   preexec_fn=more_stack)
            except OSError as e:  # E2BIG: this machine's limits are lower
                self.skipTest("cannot pass 4.8 MB of arguments: %s" % e)
            self.assertEqual(p.returncode, 100, p.stderr)
            self.assertIn("exceeds the %d-byte" % LIMIT, p.stderr)
            self.assertIn("nothing was sent", p.stderr)
            # nothing reached the node
            self.assertEqual(n.status()["deployments"], [])


class BrokenPeers(NodeTest):
    """With NNG 1.5's listener, one client that left while its connection
    was negotiated made the endpoint deaf for good (nanomsg/nng#1518):
    `connect(); close()` by any process of the node's user, any agent
    among them. The endpoints negotiate themselves now."""

    def test_connect_and_leave_leaves_both_endpoints_serving(self):
        import socket
        with self.node() as n:
            for name in ("ctl.sock", "agent.sock"):
                for payload in (b"", b"\x00SP", b"junk-not-sp-at-all"):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(os.path.join(n.run, name))
                    if payload:
                        s.sendall(payload)
                    # left once the node has sent its header (mid-
                    # negotiation, where NNG 1.5's listener broke)
                    s.settimeout(10)
                    got = b""
                    while len(got) < 8:
                        chunk = s.recv(8 - len(got))
                        if not chunk:
                            break  # closed on the junk: left as well
                        got += chunk
                    s.close()
            n.ok("ping")
            n.deploy("a", ["sleep", "1000"])
            n.wait_running_pid("a/a", 5)
            n.ok("status", "a")

    def test_client_gone_while_the_node_was_stopped(self):
        import signal
        with self.node() as n:
            os.kill(n.proc.pid, signal.SIGSTOP)
            try:
                # never negotiated: the node was stopped
                r = n.naos("--timeout", "500ms", "ping")
            finally:
                os.kill(n.proc.pid, signal.SIGCONT)
            self.assertEqual(r.code, 111, r)
            self.assertIn("unable to reach naos-node", r.err)
            n.ok("ping")


if __name__ == "__main__":
    unittest.main()
