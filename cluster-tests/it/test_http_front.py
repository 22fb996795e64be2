# SPDX-License-Identifier: Apache-2.0
"""The HTTP front door (node/http/front.c) under attack and at its edges:
connections evicted while their private leg is being dialed, descriptors
given back after every kind of connection, strangers on the private leg
listener, a node out of descriptors, and a stop with connections in every
state."""
import os
import resource
import socket
import struct
import time
import urllib.parse

import promtext
from harness import NodeTest, cpu_seconds, wait_until

REQ = b"GET /api/v1/nodes HTTP/1.1\r\nHost: localhost\r\n\r\n"
PAGE = b"GET /supervisors HTTP/1.1\r\nHost: localhost\r\n\r\n"
PARTIAL = b"GET /api/v1/status HTTP/1.1\r\n"


def port_of(n):
    return urllib.parse.urlsplit(n.http_url()).port


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(pid):
    """The node's descriptor count once three reads 100 ms apart agree."""
    seen = []

    def stable():
        seen.append(fds(pid))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]
    wait_until(stable, timeout=20, interval=0.1, msg="a stable fd count")
    return seen[-1]


def limit_for(pid, k):
    """An RLIMIT_NOFILE for pid under which exactly k more descriptors can
    be opened (the kernel hands out the lowest free numbers, and refuses
    one at or above the limit)."""
    taken = {int(x) for x in os.listdir("/proc/%d/fd" % pid)}
    free, n = 0, 0
    while True:
        if n not in taken:
            free += 1
            if free == k:
                return n + 1
        n += 1


def leg_port(n):
    """The private leg listener's port: the node's listening TCP socket
    that is not its HTTP port (no --listen: there is no other)."""
    pid = n.proc.pid
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            p = line.split()
            if p[3] == "0A" and p[9] in inodes:
                ports.add(int(p[1].rsplit(":", 1)[1], 16))
    ports.discard(port_of(n))
    if len(ports) != 1:
        raise AssertionError("expected one leg listener, found %r" % ports)
    return ports.pop()


def read_until_closed(s, timeout):
    """Reads s until the peer closes it; returns (bytes read, closed)."""
    s.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return got, True
        if not d:
            return got, True
        got += d
    return got, False


def read_replies(s, count=1):
    """Reads count whole replies (head + Content-Length body) from s;
    returns their statuses. Pipelined replies may come in one read."""
    buf, codes = b"", []
    while len(codes) < count:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise AssertionError("closed before reply %d: %r" %
                                     (len(codes) + 1, buf))
            buf += d
        head, _, buf = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                raise AssertionError("closed inside reply %d" %
                                     (len(codes) + 1))
            buf += d
        buf = buf[length:]
        codes.append(int(head.split()[1]))
    if buf:
        raise AssertionError("bytes after %d replies: %r" % (count, buf[:200]))
    return codes


def read_reply(s):
    """One whole reply; returns its status."""
    return read_replies(s)[0]


def metrics(n):
    return promtext.parse(n.http("GET", "/metrics")[2].decode(),
                          prefix="naos_")


def requests_total(n):
    fam = metrics(n).get("naos_http_requests_total")
    return sum(v for _, _, v in fam["samples"]) if fam else 0


def connect(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def reset(s):
    """Closes s with a RST (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class HttpFront(NodeTest):

    def test_eviction_while_dialing(self):
        """A connection evicted while its leg is being dialed (issue 9's
        flaky test_connection_cap: NNG 1.5.2's HTTP client panicked, and
        the node died, when a cancelled dial was followed by another)."""
        with self.node(extra_args=["--http-max-conns", "2",
                                   "--http-header-timeout", "60s"]) as n:
            port = port_of(n)
            socks = []
            try:
                for _ in range(400):
                    s = connect(port)
                    try:
                        s.sendall(PARTIAL)
                    except OSError:
                        pass  # evicted already
                    socks.append(s)
                    if len(socks) > 40:
                        socks.pop(0).close()
                self.assertIsNone(n.proc.poll(), "the node died: " +
                                  n.read_node_log()[-3000:])
                self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)
            finally:
                for s in socks:
                    s.close()

    def test_descriptors_come_back(self):
        """Every kind of connection gives back every descriptor it took."""
        with self.node(extra_args=["--http-max-conns", "4",
                                   "--http-header-timeout", "1s",
                                   "--http-idle-timeout", "1s"]) as n:
            pid, port = n.proc.pid, port_of(n)
            self.assertEqual(n.http("GET", "/api/v1/nodes")[0], 200)
            base = settled_fds(pid)

            def back(kind):
                wait_until(lambda: fds(pid) == base, timeout=20,
                           msg="fds back to %d after %s (now %d)" %
                           (base, kind, fds(pid)))

            for _ in range(30):
                self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)
            back("normal requests")

            s = connect(port)
            for _ in range(10):
                s.sendall(REQ)
                self.assertEqual(read_reply(s), 200)
            s.close()
            s = connect(port)
            s.sendall(b"GET /api/v1/nodes HTTP/1.0\r\n\r\n")
            self.assertEqual(read_reply(s), 200)
            self.assertTrue(read_until_closed(s, 10)[1])
            s.close()
            back("kept-alive and HTTP/1.0 requests")

            socks = [connect(port) for _ in range(4)]
            for s in socks:
                s.sendall(PARTIAL)
            for s in socks:
                s.close()
            back("partial heads closed by the client")

            socks = [connect(port) for _ in range(4)]
            for s in socks[:2]:
                s.sendall(PARTIAL)  # header timeout
            for s in socks[2:]:
                s.sendall(REQ)  # idle timeout after the reply
            for s in socks:
                self.assertTrue(read_until_closed(s, 20)[1])
                s.close()
            back("header and idle timeouts")

            socks = [connect(port) for _ in range(12)]
            for s in socks:
                try:
                    s.sendall(PARTIAL)
                except OSError:
                    pass
            wait_until(lambda: metrics(n) and promtext.value(
                metrics(n), "naos_http_connections_closed_total",
                reason="evicted") >= 8, timeout=20, msg="8 evicted")
            for s in socks:
                s.close()
            back("evictions")

            # garbage, a head beyond NNG's 8 KiB, a body we refuse
            for data in (b"XYZ\r\n\r\n",
                         b"GET /api/v1/nodes HTTP/1.1\r\nX: " +
                         b"a" * 9000 + b"\r\n\r\n",
                         b"POST /api/v1/deployments/x/stop HTTP/1.1\r\n"
                         b"Host: localhost\r\nContent-Length: 5\r\n\r\n"
                         b"hello"):
                s = connect(port)
                s.sendall(data)
                self.assertTrue(read_until_closed(s, 20)[1], data[:20])
                s.close()
            back("bad requests")

            # pipelined replies the client does not read (NNG's write
            # blocks on the leg), then a reset; and pipelined requests
            # followed by a half-close, read to the end
            s = connect(port, rcvbuf=2048)
            s.sendall(PAGE * 300)
            t = connect(port)
            t.sendall(REQ * 3)
            t.shutdown(socket.SHUT_WR)
            self.assertEqual(read_replies(t, 3), [200, 200, 200])
            self.assertTrue(read_until_closed(t, 20)[1])
            t.close()
            reset(s)
            back("unread pipelined replies and half-closes")

            # strangers on the private leg: a wrong nonce, and none
            lp = leg_port(n)
            strangers = [connect(lp) for _ in range(6)]
            for s in strangers[:3]:
                s.sendall(b"\0" * 16 + REQ)
            for s in strangers:
                self.assertTrue(read_until_closed(s, 20)[1])
                s.close()
            back("strangers on the leg listener")
            self.assertIsNone(n.proc.poll())

    def test_leg_listener_strangers(self):
        """Whoever connects to the private leg listener cannot have a
        request taken as a client's, is closed without a byte, and holds
        at most max-conns + 8 of the node's descriptors however many
        connections it opens."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1024:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (min(1024, hard), hard))
        with self.node(extra_args=["--http-max-conns", "8"]) as n:
            pid, port = n.proc.pid, port_of(n)
            lp = leg_port(n)
            self.assertEqual(n.http("GET", "/api/v1/nodes")[0], 200)
            base = settled_fds(pid)
            before = requests_total(n)
            for data in (REQ, b"\0" * 16 + REQ, b"x" * 16 + PAGE,
                         b"GET /"):
                s = connect(lp)
                s.sendall(data)
                got, closed = read_until_closed(s, 20)
                s.close()
                self.assertTrue(closed, data)
                self.assertEqual(got, b"", data)
            # only the /metrics request that read `before` was counted
            self.assertEqual(requests_total(n) - before, 1)

            # a flood: the node holds at most 8 + 8 of them, and still
            # answers clients
            flood, peak = [], 0
            try:
                for _ in range(300):
                    flood.append(connect(lp))
                    peak = max(peak, fds(pid))
                self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)
                peak = max(peak, fds(pid))
                # + 4: sockets being closed still count until the close
                # lands (an accept and a close of the same loop pass; up
                # to 4 seen over 40 runs, on the same socket kinds as
                # before the guardian existed)
                self.assertLessEqual(peak - base, 8 + 8 + 4,
                                     "the leg flood held %d descriptors" %
                                     (peak - base))
                for s in flood:
                    self.assertTrue(read_until_closed(s, 20)[1])
            finally:
                for s in flood:
                    s.close()
            wait_until(lambda: fds(pid) == base, timeout=20,
                       msg="fds back to %d" % base)

    def test_out_of_descriptors(self):
        """EMFILE on accepting a client, on dialing its leg and on
        accepting the leg: no spinning, no leak, service once
        descriptors are back."""
        with self.node(extra_args=["--http-header-timeout", "60s"]) as n:
            pid, port = n.proc.pid, port_of(n)
            self.assertEqual(n.http("GET", "/api/v1/nodes")[0], 200)
            base = settled_fds(pid)
            _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            clients = []
            try:
                # room for one client and NNG's end of its leg, not for
                # accepting the leg, nor a second client (which comes once
                # the first is in: both accepted, the dial would fail)
                resource.prlimit(pid, resource.RLIMIT_NOFILE,
                                 (limit_for(pid, 2), hard))
                s = connect(port)
                s.sendall(REQ)
                clients.append(s)
                wait_until(lambda: fds(pid) == base + 2 and
                           "accept on the private leg listener: Too many "
                           "open files" in n.read_node_log(), timeout=20,
                           msg="the client and its dialed leg, the leg's "
                           "accept refused")
                s = connect(port)  # waits in the backlog
                s.sendall(REQ)
                clients.append(s)
                wait_until(lambda: "accept on the HTTP listener: Too many "
                           "open files" in n.read_node_log(), timeout=20,
                           msg="the second client's accept refused")
                # both listeners stay readable: the thread must not spin
                c0, t0 = cpu_seconds(pid), time.monotonic()
                time.sleep(1.5)
                used = cpu_seconds(pid) - c0
                self.assertLess(used, 0.1 * (time.monotonic() - t0),
                                "the node spun for %.2fs of CPU" % used)
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (4096, hard))
                for s in clients:
                    self.assertEqual(read_reply(s), 200)
                    s.close()
                clients = []
                wait_until(lambda: fds(pid) == base, timeout=20,
                           msg="fds back to %d" % base)

                # room for the client only: the dial fails, the client is
                # closed without an answer
                resource.prlimit(pid, resource.RLIMIT_NOFILE,
                                 (limit_for(pid, 1), hard))
                s = connect(port)
                s.sendall(REQ)
                got, closed = read_until_closed(s, 20)
                s.close()
                self.assertTrue(closed)
                self.assertEqual(got, b"")
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (4096, hard))
                self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)
                wait_until(lambda: fds(pid) == base, timeout=20,
                           msg="fds back to %d" % base)
                self.assertIn("cannot reach the private leg",
                              n.read_node_log())
            finally:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (4096, hard))
                for s in clients:
                    s.close()

    def test_stop_with_connections_in_every_state(self):
        """The node stops promptly and cleanly whatever its HTTP
        connections are doing."""
        with self.node(extra_args=["--http-max-conns", "64",
                                   "--http-header-timeout", "60s",
                                   "--http-idle-timeout", "60s"]) as n:
            port = port_of(n)
            lp = leg_port(n)
            socks = []
            try:
                for _ in range(4):  # mid-head
                    s = connect(port)
                    s.sendall(PARTIAL)
                    socks.append(s)
                for _ in range(4):  # kept alive, idle
                    s = connect(port)
                    s.sendall(REQ)
                    self.assertEqual(read_reply(s), 200)
                    socks.append(s)
                for _ in range(3):  # a reply write blocked on the leg
                    s = connect(port, rcvbuf=2048)
                    s.sendall(PAGE * 300)
                    socks.append(s)
                for _ in range(3):  # closing, replies unread
                    s = connect(port, rcvbuf=2048)
                    s.sendall(PAGE * 20)
                    s.shutdown(socket.SHUT_WR)
                    socks.append(s)
                for _ in range(4):  # strangers mid-nonce
                    s = connect(lp)
                    s.sendall(b"\1" * 7)
                    socks.append(s)
                wait_until(lambda: promtext.value(
                    metrics(n), "naos_http_connections") >= 14 + 1,
                    timeout=20, msg="14 connections open")
                for _ in range(20):  # being accepted and dialed
                    s = socket.socket()
                    s.setblocking(False)
                    s.connect_ex(("127.0.0.1", port))
                    socks.append(s)
                self.assertEqual(n.stop_node(timeout=15), 0)
            finally:
                for s in socks:
                    s.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
