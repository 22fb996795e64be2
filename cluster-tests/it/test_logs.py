# SPDX-License-Identifier: Apache-2.0
"""Log capture: stdout+stderr into per-worker files, `naos logs`, rotation."""
import os
import re
import signal
import subprocess
import time
import unittest

from harness import NAOS_BIN, NodeTest, wait_until

# Prints "tick N" every 0.1 s, forever.
TICKER = r'''
import sys, time
i = 0
while True:
    print("tick %d" % i, flush=True)
    i += 1
    time.sleep(0.1)
'''

# Writes 40 KB of numbered 100-byte lines, then sleeps.
CHATTY = r'''
import sys, time
for i in range(400):
    sys.stdout.write(("line %05d " % i).ljust(99, "x") + "\n")
sys.stdout.flush()
print("done", flush=True)
while True:
    time.sleep(1000)
'''


class Logs(NodeTest):

    def test_stdout_and_stderr_are_captured(self):
        with self.node() as n:
            agent = n.write("both.sh", "#!/bin/sh\necho out-line-1\n"
                            "echo err-line-1 >&2\necho out-line-2\n"
                            "exec sleep 1000\n")
            n.deploy("both", [agent])
            out = wait_until(lambda: (lambda r: r.out if "out-line-2" in r.out
                                      else None)(n.ok("logs", "both")), 5,
                             msg="output in naos logs")
            self.assertEqual(out.splitlines(),
                             ["out-line-1", "err-line-1", "out-line-2"])
            # by worker path too
            self.assertEqual(n.ok("logs", "both/both").out, out)
            # --tail N gives the last N lines
            self.assertEqual(n.ok("logs", "both", "--tail", "1").out,
                             "out-line-2\n")
            self.assertEqual(n.ok("logs", "both", "--tail", "2").out,
                             "err-line-1\nout-line-2\n")
            # the file itself
            with open(n.log_path("both/both")) as f:
                self.assertEqual(f.read(), out)
            st = os.stat(n.log_path("both/both"))
            self.assertEqual(st.st_mode & 0o077, 0, "log readable by others")

    def test_output_of_every_run_is_kept(self):
        with self.node() as n:
            agent = n.write("runs.sh", '#!/bin/sh\necho "run '
                            '$NAOS_RESTART_COUNT"\nexit 1\n')
            n.deploy("runs", [agent], "--max-restarts", "2", "--window", "60s")
            n.wait_state("runs", "failed")
            self.assertEqual(n.ok("logs", "runs").out,
                             "run 0\nrun 1\nrun 2\n")

    def test_logs_follow_shows_new_lines(self):
        with self.node() as n:
            agent = n.write("ticker.py", TICKER)
            n.deploy("tick", ["python3", agent])
            wait_until(lambda: "tick 2" in n.ok("logs", "tick").out, 5,
                       msg="a few ticks")
            out_path = n.path("follow.out")
            with open(out_path, "wb") as out:
                p = subprocess.Popen([NAOS_BIN, "--run", n.run, "logs", "-f",
                                      "--tail", "1", "tick"],
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     env=n.cli_env)
                try:
                    t0 = time.monotonic()
                    # read what it printed for ~1.5 s
                    while time.monotonic() - t0 < 1.5:
                        time.sleep(0.05)
                        if p.poll() is not None:
                            break
                    self.assertIsNone(p.poll(), "naos logs -f exited early")
                finally:
                    if p.poll() is None:
                        os.kill(p.pid, signal.SIGTERM)  # by its PID
                    try:
                        code = p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        os.kill(p.pid, signal.SIGKILL)
                        p.wait()
                        self.fail("naos logs -f ignored SIGTERM")
            with open(out_path) as f:
                lines = f.read().splitlines()
            ticks = [int(m.group(1)) for m in
                     (re.fullmatch(r"tick (\d+)", l) for l in lines) if m]
            self.assertEqual(len(ticks), len(lines), lines)
            self.assertGreaterEqual(len(ticks), 8,
                                    "expected ~15 new lines in 1.5 s: %r"
                                    % lines)
            # consecutive: nothing lost, nothing repeated
            self.assertEqual(ticks, list(range(ticks[0],
                                               ticks[0] + len(ticks))))
            self.assertIn(code, (0, -signal.SIGTERM, 128 + signal.SIGTERM))

    def test_rotation_is_bounded(self):
        with self.node(log_max_size="4K", log_keep=2) as n:
            agent = n.write("chatty.py", CHATTY)
            n.deploy("chat", ["python3", agent])
            base = n.log_path("chat/chat")
            logdir = os.path.dirname(base)

            def done():
                try:
                    with open(base) as f:
                        return "done\n" in f.read()
                except OSError:
                    return False
            wait_until(done, 5, msg="chatty output written")
            files = sorted(os.listdir(logdir))
            self.assertEqual(files, ["chat.log", "chat.log.1", "chat.log.2"],
                             files)
            total = 0
            for f in files:
                size = os.path.getsize(os.path.join(logdir, f))
                self.assertLessEqual(size, 4096, "%s is %d bytes" % (f, size))
                total += size
            self.assertGreater(os.path.getsize(base + ".1"), 2048)
            # the newest lines survive, in order, across .2 -> .1 -> current
            text = ""
            for f in ("chat.log.2", "chat.log.1", "chat.log"):
                with open(os.path.join(logdir, f)) as fh:
                    text += fh.read()
            nums = [int(m.group(1)) for m in re.finditer(r"^line (\d+) ",
                                                         text, re.M)]
            self.assertEqual(nums, list(range(nums[0], 400)))
            self.assertTrue(text.endswith("done\n"))
            # naos logs still reads the current file
            tail = n.ok("logs", "chat", "--tail", "2").out.splitlines()
            self.assertEqual(tail[-1], "done")
            self.assertTrue(tail[0].startswith("line 00399 "), tail)


if __name__ == "__main__":
    unittest.main()
