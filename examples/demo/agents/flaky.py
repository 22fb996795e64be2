# SPDX-License-Identifier: Apache-2.0
"""An agent with a bug: it crashes after a few seconds, now and then."""
import random
import sys
import time

from naos_agent import notify, whoami

me = whoami()
print(f"flaky up (restart #{me['restarts']}, last reason {me['reason'] or 'none'})",
      flush=True)
life = random.uniform(8, 25)
notify(STATUS=f"will crash in {life:.0f}s")
time.sleep(life)
print("flaky: unhandled exception in tool call", file=sys.stderr, flush=True)
sys.exit(1)
