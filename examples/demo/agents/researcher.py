# SPDX-License-Identifier: Apache-2.0
"""A well-behaved agent: says READY=1 once warmed up, reports progress with
STATUS=, and pings the watchdog."""
import sys
import time

from naos_agent import notify, whoami

me = whoami()
print(f"researcher up: {me}", flush=True)
time.sleep(0.5)  # "loading the model"
notify(READY=1, STATUS="ready")
step = 0
while True:
    step += 1
    notify(WATCHDOG=1, STATUS=f"read {step} papers")
    if step % 10 == 0:
        print(f"researcher: {step} papers read", flush=True)
    time.sleep(1)
