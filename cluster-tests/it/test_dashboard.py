# SPDX-License-Identifier: Apache-2.0
"""The dashboard in a real browser: headless Chromium driven through
chromedriver's WebDriver HTTP API (standard library only). Loads
/supervisors against a running node, checks the tree and the states the
page shows against the API, kills a worker by PID and watches its restart
count change on the page without a reload, checks that folding survives
updates and works from the keyboard, and saves a screenshot: the build
directory's it-artifacts/dashboard.png and /tmp/naos-dashboard.png. Issue
10: deployments sort failed, then restarting, then by name; the filter box
(by name or path, kept across updates and in the URL); the header's failed
chip and counts are those of /api/v1/nodes; the nodes panel marks a dead
member's health stale.

Skipped (with the reason) when chromium or chromedriver is not installed;
.ci/packages/test lists both."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import (NOTIFY_PY, NodeTest, exit_all, find_node,
                     free_tcp_ports, member_args, wait_until)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = os.environ.get("NAOS_IT_ARTIFACTS",
                           os.path.join(tempfile.gettempdir(),
                                        "naos-it-artifacts"))

AGENT = NOTIFY_PY + r'''
import sys, time
notify("READY=1\nSTATUS=" + sys.argv[1])
while True:
    time.sleep(1000)
'''

TREE = """
name: research
supervisor: {strategy: one-for-one, max_restarts: 10, window: 60s}
children:
  - id: planner
    command: ["python3", "%(agent)s", "planning step 4 of 9"]
    ready: notify
  - id: tools
    supervisor: {strategy: rest-for-one, max_restarts: 4, window: 30s}
    children:
      - id: browser
        command: ["sleep", "100000"]
      - id: search
        command: ["python3", "%(agent)s", "indexed 1,204 pages"]
        ready: notify
      - id: summarizer
        command: ["sleep", "100000"]
"""


class WebDriver:
    """Just enough of the W3C WebDriver protocol."""

    def __init__(self, tmp):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(tmp, "chromedriver.log"), "wb")
        self.proc = subprocess.Popen([DRIVER, "--port=%d" % self.port],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        wait_until(lambda: self.call("GET", "/status")["ready"], 15,
                   msg="chromedriver to start")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,900",
                         "--user-data-dir=" + os.path.join(tmp, "profile"),
                         "--no-first-run", "--disable-extensions"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method,
                                     headers={"Content-Type":
                                              "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError("webdriver %s %s: %s" %
                                 (method, path, e.read()[:2000]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script,
                                                 "args": list(args)})

    def element(self, css):
        v = self.s("POST", "/element", {"using": "css selector",
                                        "value": css})
        return list(v.values())[0]

    def close(self):
        try:
            self.s("DELETE", "")
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


ROWS_JS = """
return [...document.querySelectorAll('tr[data-path]')].map(tr => ({
  path: tr.dataset.path,
  hidden: tr.hidden,
  state: tr.querySelector('.c-state').textContent,
  stateClass: tr.querySelector('.c-state .state').className,
  pid: tr.querySelector('.c-pid').textContent,
  restarts: tr.querySelector('.c-restarts').textContent,
  exit: tr.querySelector('.c-exit').textContent,
  status: tr.querySelector('.c-status').textContent}));
"""


@unittest.skipUnless(CHROMIUM and DRIVER,
                     "chromium and chromedriver are not installed (Debian "
                     "packages chromium and chromium-driver, listed in "
                     ".ci/packages/test)")
class Dashboard(NodeTest):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="naos-dash-")
        self.wd = WebDriver(self.tmp)

    def tearDown(self):
        self.wd.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rows(self):
        return {r["path"]: r for r in self.wd.js(ROWS_JS)}

    def wait_page(self, pred, what, timeout=10):
        def check():
            rows = self.rows()
            return rows if pred(rows) else None
        check.__name__ = what
        return wait_until(check, timeout, interval=0.1)

    def screenshot(self, name):
        png = base64.b64decode(self.wd.s("GET", "/screenshot"))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        with open(path, "wb") as f:
            f.write(png)
        return path

    def test_live_tree_in_the_browser(self):
        with self.node() as n:
            agent = n.write("agent.py", AGENT)
            n.apply(TREE % {"agent": agent})
            n.deploy("batch", ["sh", "-c", "sleep 0.2; exit 3"],
                     "--max-restarts", "2")
            n.deploy("web", ["sleep", "100000"])
            n.wait_state("research", "running")
            n.wait_state("batch", "failed", timeout=15)
            for p in ("research/planner", "research/tools/browser",
                      "research/tools/search", "research/tools/summarizer",
                      "web/web"):
                n.wait_running_pid(p)
            n.wait_worker("research/tools/search",
                          lambda w: w["status_text"], what="STATUS= text")

            self.wd.s("POST", "/url", {"url": n.http_url() + "/supervisors"})
            want = {"research/planner", "research/tools",
                    "research/tools/browser", "research/tools/search",
                    "research/tools/summarizer", "batch/batch", "web/web"}
            rows = self.wait_page(lambda r: want <= set(r), "the tree rows")
            boot = self.wd.js("return window.naosDashboard.bootId")
            self.assertTrue(boot)

            # the tree and the states are those of the API
            api = n.http_json("/api/v1/status")
            for d in api["deployments"]:
                sec = self.wd.js(
                    "const s = document.querySelector("
                    "'section[data-deployment=\"' + arguments[0] + '\"]');"
                    "return s && s.querySelector('.dep-head').textContent",
                    d["name"])
                self.assertIn(d["state"], sec)
                self.assertIn(d["tree"]["strategy"], sec)
            for path in want:
                dep = [d for d in api["deployments"]
                       if d["name"] == path.split("/")[0]][0]
                node = find_node(dep["tree"], path)
                r = rows[path]
                self.assertEqual(r["state"], node["state"], r)
                self.assertIn("st-" + node["state"], r["stateClass"])
                if node["type"] == "worker":
                    self.assertEqual(r["pid"], str(node["pid"] or "\u2014"))
                    self.assertEqual(r["restarts"], str(node["restarts"]))
                else:
                    self.assertIn("%d / %d" % (node["restarts_in_window"],
                                               node["max_restarts"]),
                                  r["restarts"])
            self.assertEqual(rows["research/tools/search"]["status"],
                             "indexed 1,204 pages")
            self.assertEqual(rows["batch/batch"]["state"], "stopped")
            self.assertIn("exit:3", rows["batch/batch"]["exit"])
            failed = self.wd.js(
                "return document.querySelector('section[data-deployment="
                "\"batch\"] .failure').textContent")
            self.assertIn("max restart intensity", failed)

            # kill a worker by PID: its restart count changes in place
            victim = n.node_at("research/tools/search")
            self.assertEqual(rows["research/tools/search"]["restarts"], "0")
            polls0 = self.wd.js("return window.naosDashboard.polls")
            os.kill(victim["pid"], signal.SIGKILL)
            rows = self.wait_page(
                lambda r: r["research/tools/search"]["restarts"] == "1" and
                r["research/tools/search"]["pid"] not in
                (str(victim["pid"]), "\u2014") and
                r["research/tools/search"]["state"] == "running",
                "the page to show the restart")
            self.assertIn("signal:SIGKILL",
                          rows["research/tools/search"]["exit"])
            # rest-for-one: the summarizer after it was restarted too
            self.assertEqual(rows["research/tools/summarizer"]["restarts"],
                             "1")
            self.assertIn("1 / 4", rows["research/tools"]["restarts"])
            self.assertEqual(self.wd.js("return window.naosDashboard.bootId"),
                             boot, "the page was reloaded")
            self.assertGreater(self.wd.js("return window.naosDashboard.polls"),
                               polls0)
            # ... and the events panel shows the restart
            wait_until(lambda: self.wd.js(
                "return [...document.querySelectorAll('#events li')].some("
                "li => li.textContent.includes('restart') && "
                "li.textContent.includes('research/tools/search'))"), 5,
                msg="the restart in the events panel")

            # folding: from the keyboard, kept across updates
            tog = self.wd.element('tr[data-path="research/tools"] .tog')
            self.wd.s("POST", "/element/%s/value" % tog, {"text": "\ue007"})
            self.wait_page(lambda r: r["research/tools/browser"]["hidden"],
                           "research/tools to fold")
            self.assertEqual(self.wd.js(
                "return document.activeElement.closest('tr').dataset.path"),
                "research/tools", "focus left the toggle")
            polls = self.wd.js("return window.naosDashboard.polls")
            wait_until(lambda: self.wd.js(
                "return window.naosDashboard.polls") >= polls + 2, 5)
            rows = self.rows()
            self.assertTrue(rows["research/tools/browser"]["hidden"])
            self.assertFalse(rows["research/tools"]["hidden"])
            self.assertEqual(self.wd.js(
                "return document.querySelector('tr[data-path=\"research/"
                "tools\"] .tog').getAttribute('aria-expanded')"), "false")
            self.wd.s("POST", "/element/%s/value" % tog, {"text": "\ue00d"})
            self.wait_page(lambda r: not r["research/tools/browser"]
                           ["hidden"], "research/tools to unfold (Space)")

            # scrolling survives updates (a short window makes it scroll)
            self.wd.s("POST", "/window/rect", {"width": 1000,
                                                "height": 500})
            self.wd.js("window.scrollTo(0, 150)")
            y = self.wd.js("return window.scrollY")
            polls = self.wd.js("return window.naosDashboard.polls")
            wait_until(lambda: self.wd.js(
                "return window.naosDashboard.polls") >= polls + 2, 5)
            self.assertEqual(self.wd.js("return window.scrollY"), y)
            self.assertGreater(y, 0)
            self.wd.s("POST", "/window/rect", {"width": 1400,
                                                "height": 900})
            self.wd.js("window.scrollTo(0, 0)")

            # no error banner, and the page is still the same page
            self.assertTrue(self.wd.js(
                "return document.getElementById('banner').hidden"))
            self.assertEqual(self.wd.js("return window.naosDashboard.bootId"),
                             boot)
            time.sleep(1.2)  # let the flash of the restarted rows fade
            path = self.screenshot("dashboard.png")
            shutil.copyfile(path, "/tmp/naos-dashboard.png")
            sys_note = "screenshot: %s (and /tmp/naos-dashboard.png)\n" % path
            os.write(2, sys_note.encode())

    def test_node_going_away_shows_a_banner(self):
        with self.node() as n:
            n.deploy("web", ["sleep", "100000"])
            n.wait_running_pid("web/web")
            self.wd.s("POST", "/url", {"url": n.http_url() + "/supervisors"})
            self.wait_page(lambda r: "web/web" in r, "the tree rows")
            n.stop_node()
            wait_until(lambda: not self.wd.js(
                "return document.getElementById('banner').hidden"), 10,
                msg="the lost-contact banner")
            # the last state seen is still shown
            self.assertIn("web/web", self.rows())

    # ---- issue 10: sort order, filter, header counts, stale members -----

    SECTIONS_JS = """
return [...document.querySelectorAll('section.dep')].map(s => ({
  name: s.dataset.deployment, hidden: s.hidden}));
"""

    def sections(self):
        return self.wd.js(self.SECTIONS_JS)

    def chips(self):
        return self.wd.js(
            "const t = (id) => document.getElementById(id).textContent;"
            "return {deployments: +t('s-deps'), failed: +t('s-failed'),"
            " running: +t('s-running'), restarting: +t('s-restarting'),"
            " failedClass: document.getElementById('s-failed')"
            ".parentNode.className}")

    def wait_polls(self, k=2):
        polls = self.wd.js("return window.naosDashboard.polls")
        wait_until(lambda: self.wd.js(
            "return window.naosDashboard.polls") >= polls + k, 10,
            msg="%d more polls" % k)

    def test_failed_then_restarting_first_filter_and_chips(self):
        with self.node() as n:
            # deployed in an order the page must not keep
            n.deploy("alpha", ["sleep", "100000"])
            n.deploy("zeta", ["sleep", "100000"])
            n.deploy("crashy", ["sh", "-c", "sleep 0.3; exit 1"],
                     "--max-restarts", "1000", "--window", "300s")
            n.deploy("mfail", ["sh", "-c", "exit 3"], "--max-restarts", "1")
            n.deploy("bfail", ["sh", "-c", "exit 3"], "--max-restarts", "1")
            n.apply("""
name: lab
supervisor: {strategy: one-for-one}
children:
  - id: team
    supervisor: {strategy: one-for-one}
    children:
      - id: alice
        command: ["sleep", "100000"]
      - id: bob
        command: ["sleep", "100000"]
""")
            n.wait_state("mfail", "failed", timeout=20)
            n.wait_state("bfail", "failed", timeout=20)
            n.wait_worker("crashy/crashy", lambda w: w["restarts"] >= 1,
                          timeout=20, what="a restart")
            for p in ("alpha/alpha", "zeta/zeta", "lab/team/alice",
                      "lab/team/bob"):
                n.wait_running_pid(p)

            self.wd.s("POST", "/url", {"url": n.http_url() + "/supervisors"})
            want = ["bfail", "mfail", "crashy", "alpha", "lab", "zeta"]
            wait_until(lambda: [s["name"] for s in self.sections()] == want,
                       10, msg="failed, then restarting, then by name")

            # the failed chip counts failed deployments, as /api/v1/nodes
            # and /metrics do
            c = wait_until(lambda: (lambda c: c if c["failed"] == 2 else
                                    None)(self.chips()), 10,
                           msg="the failed chip")
            me = n.http_json("/api/v1/nodes")["nodes"][0]
            self.assertEqual(c["failed"], me["health"]["deployments_failed"])
            self.assertIn("bad", c["failedClass"])
            self.assertEqual(c["deployments"], 6)

            # the filter: by deployment name ...
            box = self.wd.element("#filter")
            self.wd.s("POST", "/element/%s/value" % box, {"text": "FAIL"})
            wait_until(lambda: [s["name"] for s in self.sections()
                                if not s["hidden"]] == ["bfail", "mfail"],
                       5, msg="only the failed deployments shown")
            self.assertEqual(self.wd.js(
                "return document.getElementById('filter-count')"
                ".textContent"), "2 of 6 deployments")
            # ... kept across the page's refreshes
            self.wait_polls(2)
            self.assertEqual([s["name"] for s in self.sections()
                              if not s["hidden"]], ["bfail", "mfail"])
            self.assertEqual(self.wd.js(
                "return document.getElementById('filter').value"), "FAIL")
            # ... by path: the match, with its supervisor around it
            self.wd.s("POST", "/element/%s/clear" % box, {})
            self.wd.s("POST", "/element/%s/value" % box, {"text": "team/bo"})
            rows = self.wait_page(
                lambda r: {"lab/team", "lab/team/bob", "lab/team/alice"} <=
                set(r) and r["lab/team/alice"]["hidden"] and
                not r["lab/team/bob"]["hidden"] and
                not r["lab/team"]["hidden"], "lab/team/bob alone")
            self.assertEqual([s["name"] for s in self.sections()
                              if not s["hidden"]], ["lab"])
            self.wait_polls(2)
            self.assertTrue(self.rows()["lab/team/alice"]["hidden"])
            # ... nothing matches: said so
            self.wd.s("POST", "/element/%s/clear" % box, {})
            self.wd.s("POST", "/element/%s/value" % box, {"text": "zzz"})
            wait_until(lambda: self.wd.js(
                "const e = document.getElementById('no-match');"
                "return e && e.textContent"), 5, msg="no-match message")
            self.assertEqual([s for s in self.sections()
                              if not s["hidden"]], [])
            # ... and a reload keeps it (the URL's fragment)
            self.wd.s("POST", "/url", {"url": n.http_url() +
                                       "/supervisors#filter=alp"})
            self.wd.s("POST", "/refresh", {})
            wait_until(lambda: [s["name"] for s in self.sections()
                                if not s["hidden"]] == ["alpha"], 10,
                       msg="the filter from the URL")
            self.assertEqual(self.wd.js(
                "return document.getElementById('filter').value"), "alp")

            # with nothing flapping, every chip is the node's own count
            n.ok("rm", "crashy")

            def agree():
                c = self.chips()
                h = n.http_json("/api/v1/nodes")["nodes"][0]["health"]
                got = (c["deployments"], c["failed"], c["running"],
                       c["restarting"])
                return got == (h["deployments"], h["deployments_failed"],
                               h["agents_running"], h["agents_restarting"])
            wait_until(agree, 10, msg="the chips to match /api/v1/nodes")
            self.assertEqual(self.chips()["running"], 4)

    def test_nodes_panel_marks_dead_member_stale(self):
        key = os.path.join(self.tmp, "cluster.key")
        p = subprocess.run([os.environ.get("NAOS_BIN", "naos"), "keygen",
                            key], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p)
        listen = ["--listen", "tcp://127.0.0.1:0", "--key", key]
        with self.node(name="pa", extra_args=listen) as a:
            with self.node(name="pb", extra_args=listen +
                           ["--seeds", a.gossip_addr()]) as b:
                wait_until(lambda: a.members().get("pb", {}).get("state") ==
                           "alive", 20, msg="pb alive at pa")
                self.wd.s("POST", "/url",
                          {"url": a.http_url() + "/supervisors"})
                row_js = ("const r = [...document.querySelectorAll("
                          "'#nodes tbody tr')].find(r => r.cells[0]"
                          ".textContent === 'pb');"
                          "return r && {cls: r.className, text: "
                          "r.textContent}")
                r = wait_until(lambda: self.wd.js(row_js), 15,
                               msg="pb in the nodes panel")
                self.assertNotIn("stale", r["text"])
                b.kill9()
                r = wait_until(lambda: (lambda r: r if r and "stale" in
                                        r["text"] else None)(
                                            self.wd.js(row_js)), 20,
                               msg="pb marked stale")
                self.assertIn("stale", r["cls"])
                self.assertIn("dead", r["text"])

    def test_nodes_panel_names_leader_term_and_roles(self):
        """On a cluster of three founders the nodes panel says who leads
        in which term, and each member's role, as /api/v1/nodes does; the
        deployments of every node are shown under a heading per node, the
        page's own node first, another node's with its live tree."""
        key = os.path.join(self.tmp, "cluster.key")
        p = subprocess.run([os.environ.get("NAOS_BIN", "naos"), "keygen",
                            key], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p)
        addrs = ["tcp://127.0.0.1:%d" % q for q in free_tcp_ports(3)]
        nodes = [self.node(name="c%d" % i,
                           extra_args=member_args(addrs, i, key))
                 for i in range(3)]
        started = []
        try:
            for n in nodes:
                n.__enter__()
                started.append(n)
            a = nodes[0]

            def agreed():
                doc = a.http_json("/api/v1/nodes")
                roles = sorted(m.get("role") or "" for m in doc["nodes"])
                return doc if doc.get("leader") and \
                    roles == ["leader", "voter", "voter"] else None
            doc = wait_until(agreed, 20, msg="a leader at c0")
            self.wd.s("POST", "/url", {"url": a.http_url() + "/supervisors"})
            js = ("return {line: document.getElementById('cluster-line')"
                  ".textContent, rows: [...document.querySelectorAll("
                  "'#nodes tbody tr')].map(r => [r.cells[0].textContent, "
                  "r.cells[2].textContent])}")
            want = "leader %s \u00B7 term %d" % (doc["leader"], doc["term"])
            got = wait_until(lambda: (lambda g: g if g and want in g["line"]
                                      and len(g["rows"]) == 3 else None)(
                                          self.wd.js(js)), 15,
                             msg="the leader and term in the nodes panel")
            roles = dict(got["rows"])
            self.assertEqual(roles[doc["leader"]], "leader", got)
            self.assertEqual(sorted(roles.values()),
                             ["leader", "voter", "voter"], got)
            # every node's deployments, grouped by node
            for name, on in (("x", "c1"), ("y", "c0")):
                r = a.naos("deploy", name, "--no-wait", "--on", on, "--",
                           "sleep", "1000")
                self.assertEqual(r.code, 0, r)
            order_js = ("return [...document.querySelectorAll('#trees > "
                        "h3.node-group, #trees > section.dep')].map(e => "
                        "e.tagName === 'H3' ? 'H:' + e.textContent : "
                        "'D:' + e.dataset.deployment)")
            want_order = ["H:on c0 (this node)", "D:y", "H:on c1", "D:x"]
            got = wait_until(lambda: (lambda o: o if o == want_order
                                      else None)(self.wd.js(order_js)), 20,
                             msg="x under c1's heading, y under c0's")
            row = wait_until(lambda: self.wd.js(
                "const r = document.querySelector('tr[data-path=\"x/x\"]');"
                "return r && r.textContent"), 10, msg="x/x's row")
            self.assertIn("running", row)
        finally:
            problems = exit_all(started)
            self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
