# SPDX-License-Identifier: Apache-2.0
"""The HTTP endpoint of naos-node: the JSON API (every endpoint, with its
auth and error cases), /metrics through a strict parser of the Prometheus
text format, the page, and robustness against malformed requests."""
import json
import os
import random
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse

import promtext
from harness import (NODE_BIN, Node, NodeTest, find_node, parse_iso_ms,
                     wait_until)

TOKEN = "t0k3n-for-the-naos-http-api-0123456789"

TREE = """
name: app
supervisor: {strategy: one-for-one, max_restarts: 10, window: 60s}
children:
  - id: web
    command: ["sleep", "1000"]
  - id: jobs
    supervisor: {strategy: rest-for-one, max_restarts: 4, window: 30s}
    children:
      - id: a
        command: ["sleep", "1000"]
      - id: b
        command: ["sleep", "1000"]
"""


def raw_request(port, data, timeout=5):
    """Sends raw bytes, returns whatever comes back until the server
    closes (b"" when it closes without answering)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
            # end of input: the server answers, then closes instead of
            # waiting for a next request on a kept-alive connection
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    return out


def normalize(doc):
    """A status document without what changes between two reads: uptimes
    and last-exit times (both compared in same_status)."""
    doc = json.loads(json.dumps(doc))

    def walk(n):
        n["uptime_ms"] = 0
        if n.get("last_exit"):
            n["last_exit"]["at"] = None
        for c in n.get("children") or []:
            walk(c)
    for d in doc["deployments"]:
        walk(d["tree"])
    return doc


def timings(doc):
    """{path: (uptime_ms, last exit in ms since the epoch or None)} of
    every node of every tree in doc."""
    out = {}

    def walk(n):
        at = (n.get("last_exit") or {}).get("at")
        out[n["path"]] = (n["uptime_ms"],
                          parse_iso_ms(at) * 1000 if at else None)
        for c in n.get("children") or []:
            walk(c)
    for d in doc["deployments"]:
        walk(d["tree"])
    return out


def same_status(test, a, b, apart_s):
    """Asserts that status documents a and b, read at most apart_s seconds
    apart, are the same document: equal but for uptimes and last-exit
    times, which differ by at most that time (plus 100 ms of rounding):
    an exit's wall time is rendered from the monotonic clock at each read.
    (Comparing them rounded, to 5 s and then 100 ms, failed whenever the
    two reads straddled a multiple.)"""
    ta, tb = timings(a), timings(b)
    test.assertEqual(sorted(ta), sorted(tb))
    slack = apart_s * 1000 + 100
    for p, (up, at) in ta.items():
        up_b, at_b = tb[p]
        test.assertLessEqual(abs(up - up_b), slack, (p, up, up_b))
        test.assertEqual(at is None, at_b is None, (p, at, at_b))
        if at is not None:
            test.assertLessEqual(abs(at - at_b), slack, (p, at, at_b))
    test.assertEqual(normalize(a), normalize(b))


class Http(NodeTest):

    def apply_tree(self, n):
        n.apply(TREE)  # workers inherit the node's test marker
        n.wait_state("app", "running")
        for p in ("app/web", "app/jobs/a", "app/jobs/b"):
            n.wait_running_pid(p)

    def test_status_is_the_cli_document(self):
        with self.node() as n:
            self.apply_tree(n)
            # one crash so last_exit and restarts are filled in
            pid = n.wait_running_pid("app/jobs/a")
            os.kill(pid, signal.SIGKILL)
            n.wait_running_pid("app/jobs/a", other_than=pid)
            n.wait_running_pid("app/jobs/b")
            t0 = time.monotonic()
            api = n.http_json("/api/v1/status")
            cli = n.status()
            same_status(self, api, cli, time.monotonic() - t0)
            a = find_node(api["deployments"][0]["tree"], "app/jobs/a")
            self.assertEqual(a["restarts"], 1)
            self.assertEqual(a["last_exit"]["reason"], "signal:SIGKILL")
            jobs = find_node(api["deployments"][0]["tree"], "app/jobs")
            self.assertEqual(jobs["strategy"], "rest-for-one")
            self.assertEqual(jobs["restarts_in_window"], 1)
            self.assertEqual(jobs["max_restarts"], 4)
            # HEAD: same headers, no body
            code, hdrs, body = n.http("HEAD", "/api/v1/status")
            self.assertEqual((code, body), (200, b""))
            self.assertEqual(hdrs["content-type"], "application/json")

    def test_status_is_current_between_changes(self):
        """The API serves a cached document between tree changes; it must
        still read as of the request: uptimes move, a crash shows at once,
        and an intensity count drops when its window passes with nothing
        else happening."""
        with self.node() as n:
            n.apply("""
name: win
supervisor: {strategy: one-for-one, max_restarts: 5, window: 1s}
children:
  - id: w
    command: ["sleep", "1000"]
""")
            n.wait_state("win", "running")
            pid = n.wait_running_pid("win/w")

            def w_of(doc):
                return find_node(doc["deployments"][0]["tree"], "win/w")
            first = w_of(n.http_json("/api/v1/status"))
            time.sleep(0.4)
            again = w_of(n.http_json("/api/v1/status"))
            self.assertEqual(again["pid"], first["pid"])
            self.assertGreaterEqual(again["uptime_ms"] - first["uptime_ms"],
                                    350)
            one = n.http_json("/api/v1/deployments/win")
            self.assertGreaterEqual(
                find_node(one["tree"], "win/w")["uptime_ms"],
                again["uptime_ms"])

            os.kill(pid, signal.SIGKILL)
            new = n.wait_running_pid("win/w", other_than=pid)
            doc = n.http_json("/api/v1/status")
            self.assertEqual((w_of(doc)["pid"], w_of(doc)["restarts"]),
                             (new, 1))
            self.assertEqual(doc["deployments"][0]["tree"]
                             ["restarts_in_window"], 1)
            # window 1s: the restart leaves the count within 2 s, with no
            # other change to the tree
            wait_until(lambda: n.http_json("/api/v1/status")
                       ["deployments"][0]["tree"]["restarts_in_window"] == 0,
                       timeout=3.0, msg="intensity use never dropped")
            self.assertEqual(w_of(n.http_json("/api/v1/status"))["pid"], new)

    def test_deployment(self):
        with self.node() as n:
            self.apply_tree(n)
            n.deploy("other", ["sleep", "1000"])
            n.wait_state("other", "running")
            t0 = time.monotonic()
            d = n.http_json("/api/v1/deployments/app")
            st = n.http_json("/api/v1/status")
            apart = time.monotonic() - t0
            want = [x for x in st["deployments"] if x["name"] == "app"][0]
            self.assertEqual(d["name"], "app")
            same_status(self, {"deployments": [d]}, {"deployments": [want]},
                        apart)
            err = n.http_json("/api/v1/deployments/nope", status=404)
            self.assertIn("no deployment named nope", err["error"])
            self.assertEqual(err["status"], 404)
            n.http_json("/api/v1/deployments/a%2Fb", status=404)
            n.http_json("/api/v1/deployments/%zz", status=400)

    def test_events_cursor(self):
        with self.node() as n:
            n.deploy("s", ["sleep", "1000"])
            pid = n.wait_running_pid("s/s")
            first = n.http_json("/api/v1/events")
            self.assertEqual(first["dropped"], 0)
            kinds = [e["kind"] for e in first["events"]]
            self.assertEqual(kinds[:2], ["deploy", "start"])
            self.assertEqual(first["next"], first["events"][-1]["seq"])
            cur = first["next"]
            again = n.http_json("/api/v1/events?since=%d" % cur)
            self.assertEqual(again["events"], [])
            self.assertEqual(again["next"], cur)
            os.kill(pid, signal.SIGKILL)
            n.wait_running_pid("s/s", other_than=pid)
            new = n.http_json("/api/v1/events?since=%d" % cur)
            self.assertEqual([e["kind"] for e in new["events"]],
                             ["exit", "restart", "start"])
            self.assertEqual(new["events"][0]["reason"], "signal:SIGKILL")
            self.assertEqual(new["events"][0]["seq"], cur + 1)
            # the same events as `naos events --json`
            cli = n.events()
            self.assertEqual(cli, first["events"] + new["events"])
            one = n.http_json("/api/v1/events?since=0&max=1")
            self.assertEqual(len(one["events"]), 1)
            self.assertEqual(one["next"], 1)
            for bad in ("abc", "-1", "1.5", "", "1e3",
                        "18446744073709551616", "%zz"):
                err = n.http_json("/api/v1/events?since=" + bad, status=400)
                self.assertIn("cursor", err["error"])
            n.http_json("/api/v1/events?max=0", status=400)
            n.http_json("/api/v1/events?max=1001", status=400)

    def test_events_dropped(self):
        # a crash loop overruns the ring of 10,000 events; a reader with an
        # old cursor learns how many it missed
        with self.node() as n:
            n.deploy("loop", ["true"], "--max-restarts", "1000000",
                     "--window", "1s")
            wait_until(lambda: n.http_json("/api/v1/events?since=0&max=1")
                       ["dropped"] > 0, timeout=120, interval=0.5,
                       msg="the event ring to overflow")
            n.ok("stop", "loop")
            ev = n.http_json("/api/v1/events?since=1")
            self.assertGreater(ev["dropped"], 0)
            self.assertEqual(ev["events"][0]["seq"], 1 + ev["dropped"] + 1)
            self.assertEqual(len(ev["events"]), 1000)

    def test_nodes_is_the_local_node(self):
        with self.node() as n:
            n.deploy("s", ["sleep", "1000"])
            n.wait_running_pid("s/s")
            doc = n.http_json("/api/v1/nodes")
            self.assertEqual(len(doc["nodes"]), 1)
            me = doc["nodes"][0]
            for k in ("id", "addr", "state", "incarnation", "last_heard_ms",
                      "health"):
                self.assertIn(k, me)
            self.assertEqual(me["state"], "alive")
            self.assertEqual(me["name"], "test-node")
            # no --listen: not in a cluster, no gossip address
            self.assertEqual(me["addr"], "")
            self.assertTrue(me["local"])
            self.assertEqual(me["last_heard_ms"], 0)
            self.assertEqual(me["health"]["agents_running"], 1)
            self.assertEqual(me["health"]["deployments"], 1)
            self.assertEqual(list(doc), ["leader", "term", "nodes"])
            # alone, it leads its own log
            self.assertEqual((doc["leader"], me["role"]),
                             ("test-node", "leader"))

    def test_metrics_strict(self):
        with self.node() as n:
            self.apply_tree(n)
            pid = n.wait_running_pid("app/web")
            os.kill(pid, signal.SIGKILL)
            n.wait_running_pid("app/web", other_than=pid)
            n.http_json("/api/v1/status")
            code, hdrs, body = n.http("GET", "/metrics")
            self.assertEqual(code, 200)
            self.assertEqual(hdrs["content-type"],
                             "text/plain; version=0.0.4; charset=utf-8")
            fams = promtext.parse(body.decode(), prefix="naos_")
            v = promtext.value
            self.assertEqual(v(fams, "naos_restarts_total", deployment="app",
                               reason="signal:SIGKILL"), 1)
            self.assertEqual(v(fams, "naos_children", deployment="app",
                               type="worker", state="running"), 3)
            self.assertEqual(v(fams, "naos_children", deployment="app",
                               type="supervisor", state="running"), 2)
            self.assertEqual(v(fams, "naos_deployments", state="running"), 1)
            self.assertEqual(v(fams, "naos_escalations_total",
                               deployment="app"), 0)
            self.assertEqual(v(fams, "naos_supervisor_restarts_in_window",
                               supervisor="app"), 1)
            self.assertEqual(v(fams, "naos_supervisor_restarts_in_window",
                               supervisor="app/jobs"), 0)
            self.assertEqual(v(fams, "naos_supervisor_max_restarts",
                               supervisor="app/jobs"), 4)
            self.assertEqual(v(fams, "naos_supervisor_window_seconds",
                               supervisor="app"), 60)
            self.assertEqual(fams["naos_reactor_loop_duration_seconds"]
                             ["type"], "histogram")
            self.assertGreater(v(fams, "naos_reactor_loop_duration_seconds"
                                 "_count") or
                               fams["naos_reactor_loop_duration_seconds"]
                               ["samples"][-1][2], 0)
            self.assertGreaterEqual(v(fams, "naos_http_requests_total",
                                      route="status", code="200"), 1)
            self.assertGreaterEqual(v(fams, "naos_control_requests_total",
                                      result="ok"), 1)
            for f in fams.values():
                self.assertTrue(f["help"], f)
            # an escalation counts
            n.deploy("dies", ["false"], "--max-restarts", "1")
            n.wait_state("dies", "failed")
            fams = promtext.parse(n.http("GET", "/metrics")[2].decode(),
                                  prefix="naos_")
            self.assertEqual(v(fams, "naos_escalations_total",
                               deployment="dies"), 1)
            self.assertEqual(v(fams, "naos_supervisor_give_ups_total",
                               deployment="dies"), 1)
            self.assertEqual(v(fams, "naos_restarts_total",
                               deployment="dies", reason="exit:1"), 1)
            self.assertEqual(v(fams, "naos_deployments", state="failed"), 1)

    def test_strict_parser_rejects(self):
        good = ("# HELP a_total x\n# TYPE a_total counter\n"
                "a_total{k=\"v\"} 1\n")
        promtext.parse(good)
        bad = [
            good[:-1],                                   # no final newline
            good + "\n",                                 # blank line
            "a 1\n",                                     # undeclared
            "# TYPE a counter\na 1\n",                   # counter w/o _total
            "# TYPE a_total counter\na_total -1\n",      # negative counter
            "# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n",    # duplicate label
            "# TYPE a gauge\na{1k=\"v\"} 1\n",           # bad label name
            "# TYPE a gauge\na{k=\"\\q\"} 1\n",          # bad escape
            "# TYPE a gauge\na one\n",                   # not a float
            "# TYPE a gauge\na 1 1700000000\n",          # timestamp
            "# TYPE a gauge\na 1\na 2\n",                # duplicate series
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",     # second TYPE
            "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",  # reopened
            "# TYPE a gauge\na 1\n# HELP a late\n",      # HELP after samples
            "# TYPE a-b gauge\n",                        # bad name
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
            "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",  # decreasing
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0\n"
            "h_count 3\n",                               # +Inf != count
            "# TYPE h histogram\nh 1\n",                 # bare histogram
        ]
        for text in bad:
            with self.assertRaises(ValueError, msg=repr(text)):
                promtext.parse(text)
        with self.assertRaises(ValueError):
            promtext.parse("# TYPE x gauge\nx 1\n", prefix="naos_")

    def test_no_token_means_403(self):
        with self.node() as n:
            code, _, body = n.http(
                "POST", "/api/v1/deployments/x/restart",
                headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(code, 403)
            self.assertIn("--http-token-file", json.loads(body)["error"])
            self.assertIn("NAOS_HTTP_TOKEN", json.loads(body)["error"])

    def test_token_file(self):
        with self.node() as n0:
            path = n0.write("token", TOKEN + "\n", 0o600)
            bad = n0.write("token-readable", TOKEN + "\n", 0o644)
            # a readable token file is refused at start
            p = subprocess.run([NODE_BIN, "start", "--run", n0.path("r2"),
                                "--data", n0.path("d2"), "--http",
                                "127.0.0.1:0", "--http-token-file", bad],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 100, p)
            self.assertIn("chmod 600 " + bad, p.stderr)
            with Node(self, extra_args=["--http-token-file", path]) as n:
                self.check_commands(n)

    def test_token_env_is_not_inherited(self):
        os.environ["NAOS_HTTP_TOKEN"] = TOKEN
        try:
            n = Node(self)
            n.__enter__()
        finally:
            del os.environ["NAOS_HTTP_TOKEN"]
        try:
            out = n.path("env.txt")
            n.deploy("envy", ["sh", "-c", "env > %s; exec sleep 1000" % out])
            n.wait_running_pid("envy/envy")
            wait_until(lambda: "NAOS_AGENT" in (n.read("env.txt") or ""))
            self.assertNotIn("NAOS_HTTP_TOKEN", n.read("env.txt"))
            code, _, _ = n.http("POST", "/api/v1/deployments/envy/restart",
                                headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(code, 200)
        finally:
            n.__exit__(None, None, None)

    def check_commands(self, n):
        n.deploy("w", ["sleep", "1000"])
        pid = n.wait_running_pid("w/w")
        path = "/api/v1/deployments/w/restart"
        for hdrs in ({}, {"Authorization": "Bearer nope-nope-nope-nope"},
                     {"Authorization": "Basic " + TOKEN},
                     {"Authorization": "Bearer " + TOKEN + "x"}):
            code, h, body = n.http("POST", path, headers=hdrs)
            self.assertEqual(code, 401, hdrs)
            self.assertIn("bearer", h.get("www-authenticate", "").lower())
            self.assertIn("error", json.loads(body))
        self.assertEqual(n.node_at("w/w")["pid"], pid)  # untouched
        auth = {"Authorization": "Bearer " + TOKEN}
        code, _, body = n.http("POST", path, headers=auth)
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["message"], "restarted w")
        n.wait_running_pid("w/w", other_than=pid)
        code, _, body = n.http("POST", "/api/v1/deployments/w/stop",
                               headers=auth)
        self.assertEqual(code, 200, body)
        n.wait_state("w", "stopped")
        code, _, body = n.http("POST", "/api/v1/deployments/w/start",
                               headers=auth)
        self.assertEqual(code, 200, body)
        n.wait_state("w", "running")
        code, _, body = n.http("POST", "/api/v1/deployments/nope/stop",
                               headers=auth)
        self.assertEqual(code, 404)
        self.assertIn("no deployment named nope", json.loads(body)["error"])
        code, h, _ = n.http("GET", "/api/v1/deployments/w/stop",
                            headers=auth)
        self.assertEqual((code, h["allow"]), (405, "POST"))
        # the change is persisted like the CLI's
        n.http("POST", "/api/v1/deployments/w/stop", headers=auth)
        n.wait_state("w", "stopped")
        n.stop_node()
        n.start_node()
        time.sleep(0.3)
        self.assertEqual(n.dep("w")["state"], "stopped")

    def test_errors(self):
        with self.node() as n:
            cases = [
                ("GET", "/nope", 404, None),
                ("GET", "/api/v1/nope", 404, None),
                ("GET", "/supervisors/x", 404, None),
                ("POST", "/api/v1/status", 405, "GET, HEAD"),
                ("DELETE", "/supervisors", 405, "GET, HEAD"),
                ("PUT", "/metrics", 405, "GET, HEAD"),
                ("GET", "/api/v1/deployments/x/restart", 405, "POST"),
                ("GET", "/api/v1/events?since=x", 400, None),
                ("GET", "/" + "a" * 3000, 414, None),
            ]
            for method, path, want, allow in cases:
                code, h, body = n.http(method, path)
                self.assertEqual(code, want, (method, path, body))
                doc = json.loads(body)
                self.assertEqual(doc["status"], want)
                self.assertTrue(doc["error"])
                self.assertEqual(h["content-type"], "application/json")
                if allow:
                    self.assertEqual(h["allow"], allow)
            # oversized body: 413 and the connection closed
            port = urllib.parse.urlsplit(n.http_url()).port
            out = raw_request(port, b"POST /api/v1/deployments/x/stop "
                              b"HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                              b"100000000\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
            self.assertIn(b"Connection: close", out)
            self.assertIn(b'"status":413', out)
            out = raw_request(port, b"POST /api/v1/deployments/x/stop "
                              b"HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: "
                              b"chunked\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
            # a request head beyond NNG's 8 KiB buffer: NNG drops the
            # connection without an answer; the node carries on
            raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX: " +
                        b"a" * 20000 + b"\r\n\r\n")
            # NNG's own rejections carry our JSON body too
            out = raw_request(port, b"GET /metrics HTTP/1.1\r\n"
                              b"Connection: close\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
            self.assertIn(b'"error"', out)
            self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)

    def test_never_crashes(self):
        rng = random.Random(5)
        with self.node() as n:
            n.deploy("s", ["sleep", "1000"])
            port = urllib.parse.urlsplit(n.http_url()).port
            pieces = [b"GET", b"POST", b"HEAD", b"\x00", b"/", b"/api/v1/",
                      b"events?since=", b"deployments/", b"%", b"%00",
                      b"restart", b"/metrics", b"?", b"&", b"\r\n", b" ",
                      b"HTTP/1.1", b"Host: x", b"Content-Length: ",
                      b"99999999999999999999", b"-1", b"\xff\xfe",
                      b"Authorization: Bearer ", b"s", b"/supervisors"]
            for i in range(300):
                k = rng.randint(1, 14)
                data = b"".join(rng.choice(pieces) for _ in range(k))
                if i % 2:
                    data = (b"GET /" + data.replace(b" ", b"") +
                            b" HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                            b"\r\n\r\n")
                out = raw_request(port, data, timeout=2)
                if out:
                    self.assertTrue(out.startswith(b"HTTP/1.1 "), out)
                self.assertIsNone(n.proc.poll(), "node died on %r" % data)
            self.assertEqual(n.http("GET", "/api/v1/status")[0], 200)
            self.assertEqual(n.naos("ping").code, 0)

    def test_page_is_self_contained(self):
        with self.node() as n:
            code, h, body = n.http("GET", "/supervisors")
            self.assertEqual(code, 200)
            self.assertEqual(h["content-type"], "text/html; charset=utf-8")
            self.assertIn("default-src 'none'", h["content-security-policy"])
            page = body.decode()
            self.assertIn("<!doctype html>", page.lower())
            for ext in ("http://", "https://", "//cdn", "src=\"/",
                        "href=\"http"):
                self.assertNotIn(ext, page)
            code, h, _ = n.http("GET", "/")
            self.assertEqual((code, h["location"]), (302, "/supervisors"))

    def test_http_off_and_taken_port(self):
        with self.node(http=None) as n:
            self.assertFalse(os.path.exists(os.path.join(n.run,
                                                         "http.addr")))
            self.assertEqual(n.naos("status").code, 0)
        with self.node() as n:
            taken = n.http_url()[len("http://"):]
            # an address given with --http that is taken is fatal ...
            p = subprocess.run([NODE_BIN, "start", "--run", n.path("r2"),
                                "--data", n.path("d2"), "--http", taken],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 111, p)
            self.assertIn(taken, p.stderr)
            self.assertIn("--http off", p.stderr)
            # ... a malformed one is a usage error
            p = subprocess.run([NODE_BIN, "start", "--run", n.path("r3"),
                                "--data", n.path("d3"), "--http", "nope"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 100, p)
            self.assertIn("HOST:PORT", p.stderr)


if __name__ == "__main__":
    unittest.main()
