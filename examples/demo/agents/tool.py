# SPDX-License-Identifier: Apache-2.0
"""A quiet tool adapter that just serves until stopped."""
import signal
import sys
import time

from naos_agent import notify, whoami

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"tool {whoami()['agent']} serving", flush=True)
notify(STATUS="serving")
while True:
    time.sleep(3600)
