"""statsd and dogstatsd sinks: each emission becomes a line sent over UDP.

Lines are buffered and sent as packets of at most 1432 bytes (what go-metrics' sinks keep under
a typical MTU), flushed every 100 ms by the agent and whenever a packet fills. statsd has no
labels, so label values join the name (`consul.api.http.GET.v1_kv_`) as go-metrics flattens them;
dogstatsd sends them as tags (`|#method:GET,path:v1_kv_`). Sending never blocks or raises: a
sink that cannot send drops the packet, as UDP would.
"""

from __future__ import annotations

import socket

from pyconsul.telemetry.registry import Labels, Registry

MAX_PACKET = 1432
_TYPES = {"c": "c", "g": "g", "ms": "ms"}


def _split_addr(addr: str, default_port: int) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep:
        return addr, default_port
    return host.strip("[]"), int(port)


class StatsdSink:
    def __init__(self, reg: Registry, addr: str, tags: bool = False, extra_tags: list[str] | None = None) -> None:
        self.reg = reg
        self.tags = tags
        self.extra_tags = list(extra_tags or [])
        host, port = _split_addr(addr, 8125)
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.target = info[4]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.buffer: list[bytes] = []
        self.size = 0

    def line(self, kind: str, name: str, value: float, labels: Labels) -> str:
        full = self.reg.full_name(name, gauge=kind == "g")
        num = int(value) if float(value).is_integer() else value
        if self.tags:
            tags = [f"{k}:{v}" for k, v in labels] + self.extra_tags
            return f"{full}:{num}|{_TYPES[kind]}" + (f"|#{','.join(tags)}" if tags else "")
        flat = ".".join([full, *(v.replace(".", "_").replace(":", "_") for _, v in labels)])
        return f"{flat}:{num}|{_TYPES[kind]}"

    def emit(self, kind: str, name: str, value: float, labels: Labels) -> None:
        data = self.line(kind, name, value, labels).encode()
        if self.size + len(data) + 1 > MAX_PACKET:
            self.flush()
        self.buffer.append(data)
        self.size += len(data) + 1

    def flush(self) -> None:
        if not self.buffer:
            return
        packet = b"\n".join(self.buffer)
        self.buffer.clear()
        self.size = 0
        try:
            self.sock.sendto(packet, self.target)
        except OSError:
            pass  # nobody listening, or the socket buffer is full: metrics are best-effort

    def close(self) -> None:
        self.flush()
        self.sock.close()
