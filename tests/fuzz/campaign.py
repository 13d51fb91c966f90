"""Input makers and senders for the fuzz campaign: random and mutated bytes for each listener,
sent over real sockets. Pure generation takes a `random.Random`, so a failing run's seed
reproduces it."""

from __future__ import annotations

import json
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import dns.message
import msgpack

# Routes never fuzzed: they stop the agent, replace its state or leave the cluster by design.
UNSAFE_PATHS = frozenset({
    "/v1/agent/leave", "/v1/agent/force-leave/{node}", "/v1/snapshot", "/v1/operator/raft/peer",
    "/v1/operator/raft/transfer-leader", "/v1/agent/join/{address}", "/v1/agent/monitor",
    "/v1/agent/reload", "/v1/operator/keyring",
})
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "get", "G\x00T", "X" * 40]
QUERY_NAMES = ["index", "wait", "filter", "stale", "consistent", "near", "tag", "node-meta", "passing",
               "cas", "flags", "separator", "recurse", "keys", "hash", "max_stale", "enable", "pretty",
               "raw", "acquire", "release", "ns", "partition", "peer", "cached", "reason", "replace-existing-checks",
               "note", "output", "%zz", "", "a" * 300]
WEIRD = ["", "0", "-1", "18446744073709551616", "1e9", "true", "%00", "%ff%fe", "%2e%2e%2f", "..", "/",
         "a%2526b", "\u00e9", "Service == web", "ServiceMeta.k matches \"^a\"", "not(", "[]", "{}", "1s",
         "99999h", "-5s", "nan", "%", "+", "\\", "'", '"', "a" * 2000]


def mutate(rng: random.Random, data: bytes, rounds: int = 3) -> bytes:
    """`data` with a few random flips, deletions, insertions, duplications or truncations."""
    b = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:
            b[min(i, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op == 2:
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 16)]
        elif op == 4:
            del b[i:]
        else:
            b[i:i] = rng.choice([b"\x00", b"\xff" * 4, b"\r\n", b"%", b"\x80\x80", b"9" * 20])
    return bytes(b)


def random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 2**64 - 1, -(2**63), 1.5, 1e308, rng.randint(-10**6, 10**6)])
    if kind in (3, 4):
        return rng.choice(WEIRD + ["web", "ID", "Name", "node1", "passing", "critical"])
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["ID", "Name", "Node", "Address", "Service", "Check", "Checks", "Tags", "Port", "Meta", "TTL",
            "Interval", "Args", "HTTP", "TCP", "Status", "KV", "Verb", "Key", "Value", "Flags", "Index",
            "Behavior", "LockDelay", "ServiceID", "CheckID", "Weights", "Connect", "Proxy", "Definition"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def fill_path(rng: random.Random, template: str) -> str:
    """A route template with each `{param}` replaced by something odd (KV keys stay under z/ so
    a recursive delete cannot reach the campaign's acknowledged writes)."""
    out = []
    for seg in template.split("/"):
        if seg.startswith("{"):
            v = quote(rng.choice(WEIRD + ["web", "consul", "node1", "service:web", "any", "passing"]), safe="%/")
            out.append(("z/" + v) if seg.startswith("{key") else (v or "x"))
        else:
            out.append(seg)
    return "/".join(out)


def random_query(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(QUERY_NAMES)
        value = rng.choice(WEIRD)
        if name in ("index", "wait"):
            value = rng.choice(["1", "abc", "-1", "10ms", "1h", ""])  # never a long block: wait ≤ 10ms
            if name == "index":
                parts.append("wait=10ms")
        parts.append(quote(name, safe="%") + ("=" + quote(value, safe="%") if rng.random() < 0.9 else ""))
    return "?" + "&".join(parts) if parts else ""


def http_request(rng: random.Random, routes: list[tuple[str, str]]) -> bytes:
    """A request for a route of the table: its method or a random one, odd path parameters,
    queries, headers and bodies; sometimes the whole thing mutated at the byte level."""
    method, template = rng.choice(routes)
    if rng.random() < 0.3:
        method = rng.choice(METHODS)
    target = fill_path(rng, template) + random_query(rng)
    body = b""
    if rng.random() < 0.6:
        body = json.dumps(random_json(rng)).encode() if rng.random() < 0.8 else rng.randbytes(rng.randint(0, 64))
    headers = ["Host: x", "Connection: close"]
    if body or rng.random() < 0.1:
        headers.append(f"Content-Length: {len(body) if rng.random() < 0.9 else rng.choice(['-1', 'x', '99999999'])}")
    for _ in range(rng.randint(0, 2)):
        headers.append(rng.choice(["X-Consul-Token: " + rng.choice(WEIRD), "Transfer-Encoding: chunked",
                                   "Content-Type: " + rng.choice(WEIRD), "Expect: 100-continue",
                                   "Accept-Encoding: gzip", "X-" + "a" * 100 + ": b"]))
    raw = f"{method} {target} HTTP/1.1\r\n".encode("utf-8", "surrogateescape") + \
        ("\r\n".join(headers) + "\r\n\r\n").encode() + body
    return mutate(rng, raw, 2) if rng.random() < 0.15 else raw


@dataclass
class HTTPResult:
    status: int | None  # None: closed or timed out without a status line
    body: bytes = b""


def send_http(host: str, port: int, raw: bytes, timeout: float = 3.0) -> HTTPResult:
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    if not data.startswith(b"HTTP/1."):
        return HTTPResult(None, data[:200])
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return HTTPResult(None, data[:200])
    return HTTPResult(status, data.partition(b"\r\n\r\n")[2][:300])


def dns_query(rng: random.Random) -> bytes:
    name = rng.choice(["consul.service.consul", "agent.node.consul", "x.query.consul", "_web._tcp.service.consul",
                       "1.0.0.127.in-addr.arpa", "a" * 63 + ".consul", "web.service.dc1.consul"])
    qtype = rng.choice(["A", "AAAA", "SRV", "TXT", "ANY", "PTR", "SOA", "NS", "MX"])
    wire = dns.message.make_query(name, qtype).to_wire()
    return mutate(rng, wire) if rng.random() < 0.85 else rng.randbytes(rng.randint(0, 600))


def send_udp(host: str, port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, (host, port))


def send_tcp(host: str, port: int, data: bytes, read: bool = True, timeout: float = 1.0) -> None:
    """Send `data`, read whatever comes back until close or `timeout` (the peer may wait for more)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(data)
            if read:
                try:
                    while s.recv(65536):
                        pass
                except (TimeoutError, ConnectionResetError):
                    pass
    except OSError:
        pass


def raft_stream(rng: random.Random) -> bytes:
    """The server port's Raft framing (`\\x01PCR`, then `>I` length + msgpack), with random and
    mutated frames: raft messages of every shape, calls, replies and garbage."""
    def frame(obj: object) -> bytes:
        body = msgpack.packb(obj, use_bin_type=True)
        return struct.pack(">I", len(body)) + body

    out = b"\x01PCR"
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        term = rng.choice([0, 1, 2**63 - 1, 2**63, 2**64 - 1, -1, "1", 1.5, None])
        msg = [rng.randrange(12), term, rng.choice(["s", "", "a" * 300]), rng.choice(["s", None]),
               term, term, [[term, term, rng.randbytes(8)]] * rng.randint(0, 3), term, rng.randbytes(4)]
        if kind == 0:
            f = frame([0, "fuzz", "127.0.0.1:1", [msg]])
        elif kind == 1:
            f = frame([1, rng.randint(-5, 2**64), rng.choice(["raft.join", "raft.remove", "forward", "x"]),
                       random_json(rng)])
        elif kind == 2:
            f = frame([2, 1, True, random_json(rng)])
        elif kind == 3:
            f = struct.pack(">I", rng.choice([0, 5, 2**31, 2**32 - 1])) + rng.randbytes(rng.randint(0, 32))
        else:
            f = frame(random_json(rng))
        out += mutate(rng, f) if rng.random() < 0.4 else f
    return out


def gossip_packet(rng: random.Random) -> bytes:
    """Memberlist-shaped UDP payloads (a type byte then msgpack) and raw garbage."""
    if rng.random() < 0.3:
        return rng.randbytes(rng.randint(0, 1400))
    body = msgpack.packb(random_json(rng), use_bin_type=True)
    pkt = bytes([rng.randrange(16)]) + body
    if rng.random() < 0.2:  # a compound message of several parts
        pkt = bytes([7, 2]) + struct.pack(">HH", len(pkt), 65535) + pkt
    return mutate(rng, pkt) if rng.random() < 0.5 else pkt


@dataclass
class Findings:
    """What the campaign saw: 5xx answers by request, and counts per listener."""

    server_errors: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.sent[what] = self.sent.get(what, 0) + 1


def run_for(seconds: float, step: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()
