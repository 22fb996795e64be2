# SPDX-License-Identifier: Apache-2.0
"""harness.py: real-process integration tests of naos-node and naos.

`Node` is a context manager that gives each test its own naos-node in a
fresh short temp dir (unix socket paths must stay short), drives it with the
`naos` CLI, and on exit stops the node (SIGTERM to its PID only, SIGKILL by
PID after a deadline), checks that no process started for the test
survives, and removes the temp dir.

Every process started for a test carries NAOS_TEST_MARKER=<uuid> in its
environment: the node gets it (workers inherit the node's environment) and
`Node.deploy` also passes it with `--env`. A survivor is any process, other
than the node, whose /proc/PID/environ holds that marker.

Several nodes: `keygen` writes a cluster key; `free_tcp_ports` gives
gossip ports to choose before the nodes start (founders naming each other
as --seeds), below the ephemeral range so parallel tests binding port 0
never take them; `Node.metric` reads one sample of a node's /metrics.

Binaries: $NAOS_NODE_BIN and $NAOS_BIN (set by CTest).
Only the standard library is used. Never a fixed sleep where a condition
can be polled: see wait_until.
"""
import json as jsonlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import promtext

NODE_BIN = os.environ.get("NAOS_NODE_BIN", "naos-node")
NAOS_BIN = os.environ.get("NAOS_BIN", "naos")

# Python snippet for agents that speak the notify protocol.
NOTIFY_PY = r'''
import os, socket
def notify(msg):
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(path)
        s.send(msg.encode())
    finally:
        s.close()
'''


def wait_until(pred, timeout=5.0, interval=0.05, msg=None):
    """Polls pred() until it returns a truthy value (returned) or timeout
    seconds pass (AssertionError naming msg and the last value seen). An
    exception raised by pred counts as a falsy value."""
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = pred()
            last_exc = None
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - pred may race the node
            last_exc = e
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last value: "
                         "%r%s)" % (timeout, msg or getattr(pred, "__name__",
                                                             "condition"),
                                    last,
                                    ", last error: %r" % last_exc
                                    if last_exc else ""))


_time_scale = None


def time_scale():
    """How many times longer than in a plain build the node may take for
    timed work here: $NAOS_IT_TIME_SCALE when set, else 3 when naos-node
    was built with a sanitizer (its runtime's entry points are named in the
    binary), else 1. Scales upper bounds only (see within); a lower bound
    is the behaviour itself and holds in every build."""
    global _time_scale
    if _time_scale is None:
        env = os.environ.get("NAOS_IT_TIME_SCALE")
        if env:
            _time_scale = float(env)
        else:
            _time_scale = 1.0
            path = shutil.which(NODE_BIN) or NODE_BIN
            try:
                with open(path, "rb") as f:
                    data = f.read()
                if any(s in data for s in (b"__asan_init", b"__tsan_init",
                                           b"__ubsan_handle_")):
                    _time_scale = 3.0
            except OSError:
                pass
    return _time_scale


def within(seconds):
    """An upper bound of `seconds` in a plain build, scaled by
    time_scale() for slow (sanitizer) builds."""
    return seconds * time_scale()


def proc_state(pid):
    """The state letter of pid ('R', 'S', 'Z', ...) or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may hold spaces and parens: the state follows the last ')'
    rest = data[data.rfind(")") + 2:]
    return rest.split()[0] if rest else None


def cpu_seconds(pid):
    """CPU time (user + system) process pid has used, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rpartition(")")[2].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def proc_starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rfind(")") + 2:].split()[19])


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def pid_gone(pid, starttime=None):
    """True when pid is neither running nor a zombie. With starttime, a
    different process that reused the pid counts as gone."""
    st = proc_state(pid)
    if st is None:
        return True
    if starttime is not None and proc_starttime(pid) != starttime:
        return True
    return False


def keygen(path):
    """Writes a new cluster key to path with `naos keygen`."""
    p = subprocess.run([NAOS_BIN, "keygen", path], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p
    return path


def free_tcp_ports(n, host="127.0.0.1"):
    """n distinct TCP ports of host that are free now, for addresses that
    must be known before a node starts (founders name each other as
    --seeds) and kept across its restart. Drawn at random below the
    kernel's ephemeral range (ip_local_port_range), where no socket bound
    to port 0 (every other test's listener, every outgoing connection) can
    take one before the node binds it; a port is kept only if a bind to it
    succeeds now."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    top = max(2048, min(low, 65536))
    ports = []
    for _ in range(1000):
        if len(ports) == n:
            return ports
        port = random.randrange(max(1024, top - 12000), top)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind((host, port))
        except OSError:
            continue
        finally:
            s.close()
        ports.append(port)
    raise AssertionError("no %d free TCP ports below %d" % (n, top))


def member_args(addrs, i, key, expect=3):
    """naos-node flags of the member listening on addrs[i] that names every
    other address as a seed: a founder of a cluster of --bootstrap-expect
    expect, or a plain member (expect None)."""
    seeds = ",".join(a for j, a in enumerate(addrs) if j != i)
    args = ["--listen", addrs[i], "--key", key, "--seeds", seeds]
    if expect is not None:
        args += ["--bootstrap-expect", str(expect)]
    return args


def exit_all(nodes):
    """Stops every node of nodes, the last started first (Node.__exit__:
    each reaped, its dirs removed); returns the problems found, as
    "NAME: what"."""
    problems = []
    for n in reversed(nodes):
        try:
            n.__exit__(None, None, None)
        except AssertionError as e:
            problems.append("%s: %s" % (n.name, e))
    return problems


def processes_with_env(entry, skip=()):
    """PIDs of live processes (not zombies) whose environment holds entry
    ("NAME=VALUE"), other than those in skip."""
    needle = entry.encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        if pid in skip:
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and pid_alive(pid):
            found.append(pid)
    return found


def children(pid):
    """The direct children of pid (every thread's), zombies included."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def is_guardian(pid):
    """pid is a lease guardian (`naos-node guardian ...`, which a node
    starts through /proc/self/exe; zombies have no cmdline: not one)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and argv[1] == b"guardian" and \
        os.path.basename(argv[0]) == b"naos-node"


def guardian_of(node_pid):
    """The pid of node_pid's live guardian (its child), or None."""
    for pid in children(node_pid):
        if is_guardian(pid) and pid_alive(pid):
            return pid
    return None


def proc_ppid(pid):
    """The parent PID of pid, or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rfind(")") + 2:].split()[1])


def parse_iso_ms(s):
    """'2026-11-21T10:21:55.563Z' -> seconds since the epoch (float)."""
    import calendar
    main, frac = s.rstrip("Z").split(".")
    t = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return t + int(frac) / 1000.0


class Result:
    def __init__(self, args, code, out, err, data=None):
        self.args, self.code, self.out, self.err, self.data = (args, code, out,
                                                               err, data)

    def __repr__(self):
        return ("Result(args=%r, code=%r, out=%r, err=%r)" %
                (self.args, self.code, self.out[-2000:], self.err[-2000:]))


def find_node(tree, path):
    """The node of a status tree (dict) with this path, or None."""
    if tree is None:
        return None
    if tree.get("path") == path:
        return tree
    for c in tree.get("children") or []:
        f = find_node(c, path)
        if f is not None:
            return f
    return None


def workers(tree):
    """All worker nodes under tree, in order."""
    out = []
    if tree is None:
        return out
    if tree.get("type") == "worker":
        out.append(tree)
    for c in tree.get("children") or []:
        out.extend(workers(c))
    return out


class Node:
    """One naos-node for one test. Use as a context manager:

        with Node(self) as n:
            n.deploy("x", ["sleep", "1000"])
            n.wait_state("x", "running")
    """

    def __init__(self, test=None, name="test-node", log_max_size=None,
                 log_keep=None, extra_args=(), http="127.0.0.1:0",
                 command=("start",), env=None):
        self.test = test
        # ("start",) or ("join", SEED, ...): the naos-node subcommand and
        # its positional arguments
        self.command = list(command)
        self.name = name
        self.marker = uuid.uuid4().hex
        self.log_max_size = log_max_size
        self.log_keep = log_keep
        self.extra_args = list(extra_args)
        # every node serves HTTP on a free port unless told otherwise, so
        # tests running in parallel never collide; None = --http off
        self.http_addr = http
        self.extra_env = dict(env or {})  # more environment for the node
        self.proc = None
        self.exit_code = None
        self.dir = None

    # ---- lifecycle ------------------------------------------------------

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="nit", dir="/tmp")
        self.run = os.path.join(self.dir, "r")
        self.data = os.path.join(self.dir, "d")
        assert len(self.run) + len("/notify.sock") < 80, self.run
        self.node_log_path = os.path.join(self.dir, "node.log")
        self.env = dict(os.environ)
        self.env["NAOS_TEST_MARKER"] = self.marker
        self.env.update(self.extra_env)
        for k in ("NAOS_RUN_DIR", "NAOS_DATA_DIR", "NOTIFY_SOCKET"):
            self.env.pop(k, None)
        # the CLI gets no marker: it is not one of the test's agents
        self.cli_env = dict(os.environ)
        self.cli_env.pop("NAOS_TEST_MARKER", None)
        self.cli_env["NO_COLOR"] = "1"
        try:
            self.start_node()
        except BaseException:
            # __exit__ does not run when __enter__ fails: clean up here
            if self.proc is not None and self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            if not os.environ.get("NAOS_IT_KEEP"):
                shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    def start_node(self):
        args = [NODE_BIN, *self.command, "--run", self.run, "--data",
                self.data, "--name", self.name]
        if self.log_max_size:
            args += ["--log-max-size", str(self.log_max_size)]
        if self.log_keep:
            args += ["--log-keep", str(self.log_keep)]
        if "--http" not in self.extra_args:
            args += ["--http", self.http_addr or "off"]
        args += self.extra_args
        self.node_log = open(self.node_log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=self.node_log,
                                         stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.dir)
        except OSError:
            self.node_log.close()
            raise
        self.exit_code = None

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("naos-node exited with %s before it "
                                     "answered; its log:\n%s" %
                                     (self.proc.returncode,
                                      self.read_node_log()))
            try:
                return self.naos("ping", timeout=within(5)).code == 0
            except subprocess.TimeoutExpired:
                return False  # a slow start under load: ask again
        wait_s = within(10)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if ready():
                    return
            except AssertionError:
                self.node_log.close()
                raise
            if time.monotonic() > deadline:
                raise AssertionError("naos-node did not answer ping within "
                                     "%.0fs; its log:\n" % wait_s +
                                     self.read_node_log())
            time.sleep(0.02)

    def read_node_log(self):
        try:
            with open(self.node_log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop_node(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends sig to the node's PID only, waits for it (SIGKILL by PID
        after timeout). Returns its exit code."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                self.exit_code = self.proc.returncode
                self.proc = None
                self.node_log.close()
                raise AssertionError("naos-node did not exit within %.0fs of "
                                     "signal %d; SIGKILLed. Its log:\n%s" %
                                     (timeout, sig, self.read_node_log()))
        self.exit_code = self.proc.returncode
        self.proc = None
        self.node_log.close()
        return self.exit_code

    def survivors(self):
        """PIDs of live processes (not zombies) carrying our marker, other
        than the node, its guardian while the node runs (it inherits the
        node's environment; once the node is gone a guardian left behind
        is a survivor) and ourselves."""
        skip = {os.getpid()}
        if self.proc is not None:
            skip.add(self.proc.pid)
            skip.update(p for p in children(self.proc.pid)
                        if is_guardian(p))
        return processes_with_env("NAOS_TEST_MARKER=" + self.marker, skip)

    def guardian(self):
        """The pid of the node's live guardian, or None."""
        return guardian_of(self.proc.pid) if self.proc else None

    def __exit__(self, et, ev, tb):
        problems = []
        try:
            if self.proc is not None:
                if self.proc.poll() is not None:
                    problems.append("naos-node exited by itself during the "
                                    "test with status %s; its log:\n%s" %
                                    (self.proc.returncode,
                                     self.read_node_log()[-4000:]))
                try:
                    code = self.stop_node()
                    if code != 0 and not problems:
                        problems.append("naos-node exited with status %s "
                                        "after SIGTERM; its log:\n%s" %
                                        (code, self.read_node_log()[-4000:]))
                except AssertionError as e:
                    problems.append(str(e))
            # workers are stopped before the node exits; allow the kernel a
            # moment to finish killing what the node SIGKILLed last
            left = []
            deadline = time.monotonic() + 3
            while True:
                left = self.survivors()
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if left:
                desc = []
                for pid in left:
                    try:
                        with open("/proc/%d/cmdline" % pid, "rb") as f:
                            cmd = f.read().replace(b"\0", b" ").decode(
                                errors="replace")
                    except OSError:
                        cmd = "?"
                    desc.append("%d (%s)" % (pid, cmd.strip()))
                    try:
                        os.kill(pid, signal.SIGKILL)  # ours: it has our marker
                    except OSError:
                        pass
                problems.append("processes of this test survived the node: "
                                + ", ".join(desc))
        finally:
            if et is not None and self.dir:
                # the test failed: the node's last words go in the test's
                # output, which is all a CI record keeps
                try:
                    sys.stderr.write("harness: %s failed; the end of its "
                                     "log:\n%s\n" % (self.name,
                                                     self.read_node_log()
                                                     [-2500:]))
                except Exception:  # noqa: BLE001 - the log may be gone
                    pass
            if os.environ.get("NAOS_IT_KEEP"):
                sys.stderr.write("kept %s\n" % self.dir)
            elif self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            if et is None:
                raise AssertionError("; ".join(problems))
            sys.stderr.write("harness: " + "; ".join(problems) + "\n")
        return False

    def kill9(self):
        """SIGKILLs the node (by PID) and reaps it; the Node can be started
        again with start_node() on the same directories."""
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.exit_code = self.proc.returncode
        self.proc = None
        self.node_log.close()

    def gossip_addr(self, timeout=5.0):
        """The advertised gossip address (RUN/gossip.addr), once written."""
        path = os.path.join(self.run, "gossip.addr")
        wait_until(lambda: os.path.exists(path), timeout,
                   msg="RUN/gossip.addr")
        with open(path) as f:
            return f.read().strip()

    def members(self):
        """`naos nodes --json`: {name: member}."""
        doc = self.ok("nodes", json=True).data
        return {m["name"]: m for m in doc["nodes"]}

    # ---- HTTP --------------------------------------------------------------

    def http_url(self):
        """The node's HTTP base URL ("http://127.0.0.1:PORT") from
        RUN/http.addr, where the node records the port it bound."""
        with open(os.path.join(self.run, "http.addr")) as f:
            return f.read().strip()

    def http(self, method, path, body=None, headers=None, timeout=15):
        """One HTTP request to the node. Returns (status, headers as a
        dict with lower-case names, body bytes)."""
        import http.client
        import urllib.parse
        u = urllib.parse.urlsplit(self.http_url())
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return (r.status, {k.lower(): v for k, v in r.getheaders()},
                    data)
        finally:
            c.close()

    def metrics(self):
        """GET /metrics, parsed strictly (promtext.parse, naos_ prefix)."""
        import promtext
        code, _, body = self.http("GET", "/metrics")
        if code != 200:
            raise AssertionError("GET /metrics: status %d: %r" %
                                 (code, body[:2000]))
        return promtext.parse(body.decode(), prefix="naos_")

    def metric(self, name, **labels):
        """The value of one sample of /metrics (None when absent)."""
        import promtext
        return promtext.value(self.metrics(), name, **labels)

    def http_json(self, path, status=200, method="GET", headers=None):
        """GETs path, checks the status and returns the parsed JSON."""
        code, hdrs, body = self.http(method, path, headers=headers)
        if code != status:
            raise AssertionError("%s %s: status %d, want %d: %r" %
                                 (method, path, code, status, body[:2000]))
        return jsonlib.loads(body)

    # ---- files -----------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, text, mode=0o755):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def read(self, name, default=None):
        try:
            with open(self.path(name)) as f:
                return f.read()
        except FileNotFoundError:
            return default

    def lines(self, name):
        t = self.read(name, "")
        return [l for l in t.splitlines() if l.strip()]

    def log_path(self, worker_path):
        return os.path.join(self.data, "logs", worker_path + ".log")

    # ---- the CLI ---------------------------------------------------------

    def naos(self, *args, json=False, timeout=15, stdin=None, cwd=None):
        """Runs `naos --run RUN [--json] ARGS...` (in cwd, default the
        node's own directory) and returns a Result with code, out, err,
        and data (parsed JSON when json=True: one document, or a list of
        documents for JSON-lines output such as events)."""
        argv = [NAOS_BIN, "--run", self.run]
        if json:
            argv.append("--json")
        argv += [str(a) for a in args]
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                           timeout=timeout, env=self.cli_env,
                           cwd=cwd or self.dir)
        data = None
        if json and p.returncode == 0:
            out = p.stdout.strip()
            try:
                data = jsonlib.loads(out) if out else None
            except ValueError:
                data = [jsonlib.loads(l) for l in out.splitlines()
                        if l.strip()]
        return Result(argv, p.returncode, p.stdout, p.stderr, data)

    def ok(self, *args, json=False, timeout=15):
        r = self.naos(*args, json=json, timeout=timeout)
        if r.code != 0:
            raise AssertionError("naos %s failed: %r\nnode log:\n%s" %
                                 (" ".join(map(str, args)), r,
                                  self.read_node_log()[-3000:]))
        return r

    def deploy(self, name, cmd, *opts, marker=True, wait=False):
        """naos deploy NAME OPTS... --env NAOS_TEST_MARKER=... -- CMD...
        With --no-wait unless wait: most tests watch the first start (or
        its failure) themselves."""
        extra = ["--env", "NAOS_TEST_MARKER=" + self.marker] if marker else []
        if not wait:
            extra.append("--no-wait")
        return self.ok("deploy", name, *opts, *extra, "--", *cmd)

    def apply(self, yaml_text, fname="tree.yaml", wait=False):
        p = self.write(fname, yaml_text, 0o644)
        return self.ok("apply", "-f", p, *([] if wait else ["--no-wait"]))

    def status(self, name=None, local=True):
        """The whole status document (dict): of what runs on this node
        (`--local`; the same without a cluster), or of the cluster."""
        args = ["status"] + ([name] if name else [])
        if local and not name:
            args.append("--local")
        return self.ok(*args, json=True).data

    def dep(self, name):
        """The deployment dict {name, state, tree, ...}, or None."""
        for d in self.status()["deployments"]:
            if d["name"] == name:
                return d
        return None

    def node_at(self, path):
        """The status tree node at path ("dep/child"), or None."""
        dep = self.dep(path.split("/")[0])
        return find_node(dep["tree"], path) if dep else None

    def workers(self, name):
        dep = self.dep(name)
        return workers(dep["tree"]) if dep else []

    def events(self, kind=None, path=None):
        evs = self.ok("events", json=True).data or []
        if isinstance(evs, dict):
            evs = [evs]
        return [e for e in evs
                if (kind is None or e["kind"] == kind) and
                (path is None or e.get("path") == path)]

    def barrier(self, timeout=None):
        """Returns once the node has handled a deploy, a spawn and an exit
        given to it after everything before: a throwaway deployment whose
        one (temporary) run exits at once is deployed, its exit event
        awaited, and it is removed. Call it before an absence check: what
        the node was already due to do at once (a restart without backoff,
        a spawn) has been done by then, so its absence is a finding, not
        luck of timing. Returns the barrier's exit event (its seq orders
        it after everything before)."""
        self._barriers = getattr(self, "_barriers", 0) + 1
        name = "barrier%d" % self._barriers
        self.deploy(name, ["sh", "-c", "exit 3"], "--restart", "temporary")
        path = "%s/%s" % (name, name)
        ev = wait_until(lambda: self.events("exit", path),
                        timeout or within(10), msg="the barrier's exit")
        self.ok("rm", name)
        return ev[0]

    def wait_state(self, name, state, timeout=5.0):
        """Waits until deployment name is in state; returns the deployment."""
        def check():
            d = self.dep(name)
            return d if d and d["state"] == state else None
        check.__name__ = "deployment %s to be %s" % (name, state)
        try:
            return wait_until(check, timeout)
        except AssertionError as e:
            raise AssertionError("%s; status: %s" % (
                e, jsonlib.dumps(self.dep(name), indent=1)))

    def wait_worker(self, path, pred, timeout=5.0, what="condition"):
        """Waits until pred(status node at path) holds; returns the node."""
        def check():
            w = self.node_at(path)
            return w if w is not None and pred(w) else None
        check.__name__ = "%s: %s" % (path, what)
        try:
            return wait_until(check, timeout)
        except AssertionError as e:
            raise AssertionError("%s; node: %s" % (
                e, jsonlib.dumps(self.node_at(path), indent=1)))

    def wait_running_pid(self, path, timeout=5.0, other_than=None):
        """Waits until the worker at path is running with a pid (different
        from other_than) and returns that pid."""
        w = self.wait_worker(
            path, lambda w: w["state"] == "running" and w["pid"] and
            w["pid"] != other_than, timeout,
            "running with a pid other than %s" % other_than)
        return w["pid"]


class NodeTest(unittest.TestCase):
    """Base class: self.node() makes a Node bound to this test."""
    maxDiff = None

    def node(self, **kw):
        return Node(self, **kw)


def gauge(node, name):
    """The value of metric name (no labels) on node's /metrics."""
    return promtext.value(node.metrics(), name)


class ReadyMixin:
    def naos_ready(self, via, *args):
        """`naos ARGS` through via, asked again while it says to try again
        (exit 1: a leader that has not committed its first entry yet, a
        node still catching up); the last result."""
        deadline = time.monotonic() + within(15)
        while True:
            r = via.naos(*args)
            if (r.code != 1 or "try again" not in r.err or
                    time.monotonic() > deadline):
                return r
            time.sleep(0.1)  # a backoff between attempts, not a wait


class GrownTest(ReadyMixin, unittest.TestCase):
    """Base class: a cluster grown one node at a time on loopback, under
    one key: self.node(NAME) starts a node alone (a cluster of one
    voter), self.node(NAME, join=ADDR) one that joins through ADDR; each
    node's gossip address is node.addr. In tearDown every node started is
    stopped and reaped by PID and the temp dirs are removed."""
    dir_prefix = "ngrown"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix, dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        self.started = []

    def tearDown(self):
        problems = exit_all(self.started)
        shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("teardown: " + "; ".join(problems))

    def node(self, name, join=None, extra=()):
        addr = "tcp://127.0.0.1:%d" % free_tcp_ports(1)[0]
        n = Node(name=name, command=("join", join) if join else ("start",),
                 extra_args=["--listen", addr, "--key", self.key, *extra])
        n.addr = addr
        n.__enter__()
        self.started.append(n)
        return n


class FoundersTest(ReadyMixin, unittest.TestCase):
    """Base class: three founders of one cluster on loopback (self.nodes,
    named NAME_PREFIX0..2, each with founders_env(i) more environment),
    started in setUp; in tearDown each is resumed if stopped, reaped by
    PID and its temp dirs removed, and no process carrying an entry of
    self.traces may outlive them."""
    dir_prefix = "nfound"
    name_prefix = "f"

    def founders_env(self, i):
        return {}

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix, dir="/tmp")
        self.key = keygen(os.path.join(self.dir, "cluster.key"))
        self.addrs = ["tcp://127.0.0.1:%d" % p for p in free_tcp_ports(3)]
        self.nodes = [Node(name="%s%d" % (self.name_prefix, i),
                           extra_args=member_args(self.addrs, i, self.key),
                           env=self.founders_env(i))
                      for i in range(3)]
        self.started = []
        self.traces = []
        for n in self.nodes:
            n.__enter__()
            self.started.append(n)

    def tearDown(self):
        for n in self.nodes:  # never leave one stopped
            if n.proc is not None and n.proc.poll() is None:
                os.kill(n.proc.pid, signal.SIGCONT)
        problems = exit_all(self.started)
        shutil.rmtree(self.dir, ignore_errors=True)
        for t in self.traces:
            left = processes_with_env(t)
            if left:
                problems.append("workers outlived the cluster: %r" % left)
        if problems:
            raise AssertionError("teardown: " + "; ".join(problems))

    def leader(self, nodes):
        """The one node of nodes that leads (naos_raft_leader 1)."""
        def one():
            lead = [n for n in nodes if gauge(n, "naos_raft_leader") == 1]
            return lead[0] if len(lead) == 1 else None
        return wait_until(one, within(20), interval=0.05, msg="one leader")


