"""gRPC health and HTTP/2 ping checks over a minimal HTTP/2 client (RFC 9113).

Only what the two checks need: the client preface and SETTINGS exchange, one request stream
(HEADERS with HPACK literals, never indexed, so no encoder state) with one DATA frame, and PING.
Response headers are not decoded (that would need the HPACK decoder and Huffman table): the gRPC
verdict comes from the HealthCheckResponse message in the DATA frames, and a response without one
(trailers-only: UNIMPLEMENTED, NOT_FOUND...) is critical.

gRPC target: `host:port` or `host:port/service`; the request is
`grpc.health.v1.Health/Check {service}` and only SERVING (1) passes.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
from typing import Any

from pyconsul.checks.base import CRITICAL, PASSING, CheckResult, CheckSpec
from pyconsul.checks.sockets import split_host_port
from pyconsul.checks.tls import AgentTLS, client_context

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


class H2Error(Exception):
    pass


def frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: str, value: str) -> bytes:
    """'Literal header field without indexing, new name', no Huffman (RFC 7541 6.2.2)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def health_request(service: str) -> bytes:
    """gRPC length-prefixed HealthCheckRequest{service = 1}."""
    msg = (b"\x0a" + varint(len(service.encode())) + service.encode()) if service else b""
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def parse_health_response(data: bytes) -> int:
    """ServingStatus from a gRPC-framed HealthCheckResponse (0 = UNKNOWN when absent)."""
    if len(data) < 5:
        raise H2Error("short gRPC message")
    if data[0] == 1:
        raise H2Error("compressed gRPC message not supported")
    if data[0] != 0:
        raise H2Error("the response is not a gRPC message (an HTTP error page?)")
    (length,) = struct.unpack(">I", data[1:5])
    msg = data[5 : 5 + length]
    i, status = 0, 0
    while i < len(msg):
        key = msg[i]
        i += 1
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            val, shift = 0, 0
            while True:
                b = msg[i]
                i += 1
                val |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if field_no == 1:
                status = val
        elif wire == 2:
            ln = msg[i]
            i += 1 + ln
        else:
            raise H2Error("unexpected protobuf wire type")
    return status


class H2Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, host: str, port: int, use_tls: bool, defn: dict[str, Any], agent_tls: AgentTLS | None = None
    ) -> H2Connection:
        ctx = client_context(agent_tls, bool(defn.get("TLSSkipVerify")), ("h2",)) if use_tls else None
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ctx, server_hostname=(defn.get("TLSServerName") or host) if ctx else None
        )
        conn = cls(reader, writer)
        writer.write(PREFACE + frame(SETTINGS, 0, 0, b""))
        await writer.drain()
        return conn

    async def read_frame(self) -> tuple[int, int, int, bytes]:
        head = await self.reader.readexactly(9)
        length = int.from_bytes(head[:3], "big")
        ftype, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = await self.reader.readexactly(length)
        if ftype == SETTINGS and not flags & ACK:
            self.writer.write(frame(SETTINGS, ACK, 0, b""))
        elif ftype == PING and not flags & ACK:
            self.writer.write(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            raise H2Error("connection closed by server (GOAWAY)")
        return ftype, flags, stream, payload

    async def ping(self) -> None:
        data = os.urandom(8)
        self.writer.write(frame(PING, 0, 0, data))
        await self.writer.drain()
        while True:
            ftype, flags, _, payload = await self.read_frame()
            if ftype == PING and flags & ACK and payload == data:
                return

    async def request(self, headers: list[tuple[str, str]], body: bytes) -> bytes:
        block = b"".join(hpack_literal(k, v) for k, v in headers)
        self.writer.write(frame(HEADERS, END_HEADERS, 1, block) + frame(DATA, END_STREAM, 1, body))
        await self.writer.drain()
        data = bytearray()
        while True:
            ftype, flags, stream, payload = await self.read_frame()
            if stream != 1:
                continue
            if ftype == DATA:
                if flags & 0x8:  # PADDED
                    payload = payload[1 : len(payload) - payload[0]]
                data += payload
                if payload:  # give the window back so a large reply can't stall
                    inc = struct.pack(">I", len(payload))
                    self.writer.write(frame(WINDOW_UPDATE, 0, 0, inc) + frame(WINDOW_UPDATE, 0, 1, inc))
            elif ftype == RST_STREAM:
                code = int.from_bytes(payload[:4], "big")
                raise H2Error(f"stream reset by server (error code {code})")
            if ftype in (DATA, HEADERS) and flags & END_STREAM:
                return bytes(data)

    async def close(self) -> None:
        try:
            self.writer.write(frame(GOAWAY, 0, 0, b"\x00" * 8))
            self.writer.close()
            await self.writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


async def run_grpc(spec: CheckSpec, agent_tls: AgentTLS | None = None) -> CheckResult:
    defn = spec.definition
    target = str(defn["GRPC"])
    addr, _, service = target.partition("/")
    use_tls = bool(defn.get("GRPCUseTLS"))

    async def probe() -> int:
        host, port = split_host_port(addr)
        conn = await H2Connection.open(host, port, use_tls, defn, agent_tls)
        try:
            headers = [
                (":method", "POST"),
                (":scheme", "https" if use_tls else "http"),
                (":path", "/grpc.health.v1.Health/Check"),
                (":authority", addr),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("user-agent", "Consul Health Check"),
            ]
            body = await conn.request(headers, health_request(service))
            if not body:
                raise H2Error("no health response message (the server answered with trailers only)")
            return parse_health_response(body)
        finally:
            await conn.close()

    try:
        status = await asyncio.wait_for(probe(), spec.timeout)
    except TimeoutError:
        return CheckResult(CRITICAL, f"gRPC {target} failed: context deadline exceeded")
    except (OSError, H2Error, ValueError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        return CheckResult(CRITICAL, f"gRPC {target} failed: {_describe(exc)}")
    if status != 1:
        return CheckResult(CRITICAL, f"gRPC {target} serving status: {SERVING_STATUS.get(status, str(status))}")
    return CheckResult(PASSING, f"gRPC check {target}: success")


async def run_h2ping(spec: CheckSpec, agent_tls: AgentTLS | None = None) -> CheckResult:
    defn = spec.definition
    target = str(defn.get("H2PING") or defn.get("H2Ping"))
    use_tls = defn.get("H2PingUseTLS", True) is not False

    async def probe() -> None:
        host, port = split_host_port(target)
        conn = await H2Connection.open(host, port, use_tls, defn, agent_tls)
        try:
            await conn.ping()
        finally:
            await conn.close()

    try:
        await asyncio.wait_for(probe(), spec.timeout)
    except TimeoutError:
        return CheckResult(CRITICAL, "HTTP2 ping failed: context deadline exceeded")
    except (OSError, H2Error, ValueError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        return CheckResult(CRITICAL, f"HTTP2 ping failed: {_describe(exc)}")
    return CheckResult(PASSING, "HTTP2 ping was successful")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed by server (not an HTTP/2 endpoint?)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
