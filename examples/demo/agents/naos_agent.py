# SPDX-License-Identifier: Apache-2.0
"""The few lines an agent needs to speak naos's side of the contract: the
systemd notify protocol on NOTIFY_SOCKET, and the NAOS_* environment."""
import os
import socket

_sock = None


def notify(**fields):
    """notify(READY=1, STATUS="working") sends one sd_notify datagram; a
    no-op when not run under naos (or systemd)."""
    global _sock
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    if _sock is None:
        _sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    msg = "\n".join(f"{k}={v}" for k, v in fields.items())
    _sock.sendto(msg.encode(), path)


def whoami():
    return {
        "agent": os.environ.get("NAOS_AGENT", "?"),
        "node": os.environ.get("NAOS_NODE", "?"),
        "restarts": int(os.environ.get("NAOS_RESTART_COUNT", "0")),
        "reason": os.environ.get("NAOS_RESTART_REASON", ""),
    }
