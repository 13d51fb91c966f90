"""systemd readiness (`Type=notify`): one datagram to `$NOTIFY_SOCKET`, no library needed.

The agent sends READY=1 once it serves, RELOADING=1 … READY=1 around a SIGHUP reload and
STOPPING=1 when it begins to shut down, as Consul does. Without `NOTIFY_SOCKET` (not under
systemd, or another Type) nothing is sent. A leading `@` names an abstract socket.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1"); True if a notify socket took it. Never raises."""
    addr = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False  # systemd went away or the socket is not ours: readiness is best-effort
