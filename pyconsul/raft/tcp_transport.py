"""TCPTransport: Raft traffic and server-to-server calls over the server port (8300).

A connection starts with the 4-byte magic `\x01PCR` (a non-letter first byte, so a listener
shared with forwarded HTTP, like Consul's multiplexed server port, can tell them apart), then carries frames of `>I` length + msgpack:
  [0, src_id, src_addr, [message, ...]]   raft messages (no reply)
  [1, call_id, method, body]               a call
  [2, call_id, ok, body]                   its reply (body is the error text when not ok)
Each peer gets one outbound connection, written by one task that sends everything queued since
its last write in a single frame (batching under load). Messages queued while a peer is
unreachable are dropped (Raft retries) and the driver is told, so it probes instead of
pipelining. Pass `ssl.SSLContext`s to serve and dial with TLS (the TLS layer's seam).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import struct
from collections.abc import Iterable, Iterator
from typing import Any

import msgpack

from pyconsul.raft.messages import InstallSnapshot, Message, SnapshotChunk, from_wire, to_wire
from pyconsul.raft.snapshot_chunks import SnapshotAssembler, iter_snapshot_chunks
from pyconsul.raft.throttle import LogThrottle
from pyconsul.raft.transport import (
    CallHandler,
    ConnectFailed,
    MessageHandler,
    RemoteError,
    TransportError,
    UnreachableHandler,
)
from pyconsul.raft.wire import (
    BATCH_BYTES,
    MAX_FRAME_BYTES,
    MAX_ID_LEN,
    MAX_MESSAGES_PER_FRAME,
    MAX_TERM_OR_INDEX,
    DecodeError,
    as_lists,
    unpack_peer,
)

log = logging.getLogger("pyconsul.raft.transport")

MAGIC = b"\x01PCR"
_LEN = struct.Struct(">I")
MAX_FRAME = MAX_FRAME_BYTES  # see raft/wire.py for how it follows from what servers send
MAX_ERROR_TEXT = 4096
RAFT, CALL, REPLY = 0, 1, 2


def split_addr(addr: str, default_port: int = 8300) -> tuple[str, int]:
    """"IP:port" or "IP" (default port) → (host, port); ValueError with a clear message if bad."""
    host, sep, port = addr.rpartition(":")
    if not sep or "]" in port:
        host, port = addr, str(default_port)
    host = host.strip("[]")
    if not host:
        raise ValueError(f"bad server address {addr!r}")
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"bad port in server address {addr!r}") from None
    if not 0 < p < 65536:
        raise ValueError(f"bad port in server address {addr!r}")
    return host, p


async def _read_frame(reader: asyncio.StreamReader, timer: _ReadTimer | None = None) -> Any:
    """The next frame; with `timer`, the wait for it is bounded by the idle timeout and the
    read of its body, once the length has come, by the frame timeout."""
    if timer is not None:
        timer.start(timer.idle)
    head = await reader.readexactly(_LEN.size)
    (n,) = _LEN.unpack(head)
    if n > MAX_FRAME:  # refused on the prefix alone: nothing of the body is read or allocated
        raise DecodeError(f"frame of {n} bytes is over the limit of {MAX_FRAME}")
    if timer is not None:
        timer.start(timer.frame)
    body = await reader.readexactly(n)
    if timer is not None:
        timer.stop()
    frame = unpack_peer(body)
    if not isinstance(frame, tuple) or not frame:
        raise DecodeError("frame is not an array")
    return frame


class _ReadTimer:
    """Drops an inbound connection whose peer is silent too long: the handshake, the gap
    between frames, or the rest of a frame once its length has arrived (a slow or stuck peer
    would otherwise hold a descriptor and a task for good)."""

    __slots__ = ("idle", "frame", "_writer", "_handle")

    def __init__(self, writer: asyncio.StreamWriter, idle: float, frame: float) -> None:
        self.idle = idle
        self.frame = frame
        self._writer = writer
        self._handle: asyncio.TimerHandle | None = None

    def start(self, seconds: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = asyncio.get_running_loop().call_later(seconds, self._writer.transport.abort)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _frame(obj: Any) -> bytes:
    body = msgpack.packb(obj, use_bin_type=True)
    return _LEN.pack(len(body)) + body


def _raft_frames(prefix: bytes, msgs: list[Message]) -> Iterator[bytes]:
    """`msgs` as frames `[RAFT, src, addr, [message, ...]]` of at most BATCH_BYTES of messages
    each (a larger message goes alone), snapshots split into chunks, one frame per chunk, built
    as the caller takes them (a large snapshot is never copied whole on the event loop)."""
    pending: list[Message] = []
    for m in msgs:
        if isinstance(m, InstallSnapshot):
            yield from _batched_frames(prefix, pending)
            pending = []
            for c in iter_snapshot_chunks(m):
                yield from _batched_frames(prefix, [c])
        else:
            pending.append(m)
    yield from _batched_frames(prefix, pending)


def _batched_frames(prefix: bytes, msgs: list[Message]) -> list[bytes]:
    packed = [msgpack.packb(to_wire(m), use_bin_type=True) for m in msgs]
    frames: list[bytes] = []
    i = 0
    while i < len(packed):
        j, size = i, 0
        while j < len(packed) and j - i < MAX_MESSAGES_PER_FRAME and (j == i or size + len(packed[j]) <= BATCH_BYTES):
            size += len(packed[j])
            j += 1
        p = msgpack.Packer()
        body = prefix + p.pack_array_header(j - i) + b"".join(packed[i:j])
        frames.append(_LEN.pack(len(body)) + body)
        i = j
    return frames


class _Peer:
    """The outbound connection to one peer address and what is queued for it."""

    def __init__(self, t: TCPTransport, addr: str) -> None:
        self.t = t
        self.addr = addr
        self.msgs: list[Message] = []
        self.frames: list[bytes] = []
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.wake = asyncio.Event()
        self.broken = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    def _fail(self, why: str, error: type[TransportError] = TransportError) -> None:
        had_msgs = bool(self.msgs)
        self.msgs.clear()
        self.frames.clear()
        for fut in self.calls.values():
            if not fut.done():
                fut.set_exception(error(f"{self.addr}: {why}"))
        self.calls.clear()
        if had_msgs or why:
            self.t._unreachable(self.addr)

    async def _run(self) -> None:
        backoff = 0.02
        host, port = split_addr(self.addr)
        while not self.t.closed:
            await self.wake.wait()
            if self.t.closed:
                return
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        host, port, ssl=self.t.client_ssl,
                        server_hostname=self.t.server_hostname if self.t.client_ssl else None,
                        local_addr=(self.t.host, 0) if self.t.bind_source else None,
                    ),
                    self.t.connect_timeout,
                )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                self._fail(f"connect failed: {exc}", ConnectFailed)
                self.wake.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 0.2)
                continue
            backoff = 0.02
            _drop_when_stalled(writer, self.t.stall_timeout)
            self.broken = False
            reader_task = asyncio.get_running_loop().create_task(self._read_replies(reader))
            try:
                writer.write(MAGIC)
                while not self.broken and not self.t.closed:
                    self.wake.clear()
                    out: Iterable[bytes] = self.frames
                    self.frames = []
                    if self.msgs:
                        batch, self.msgs = self.msgs, []
                        out = itertools.chain(out, _raft_frames(self.t.frame_prefix, batch))
                    for data in out:
                        writer.write(data)
                        await writer.drain()  # only waits above the high-water mark
                    if not (self.msgs or self.frames):
                        await self.wake.wait()
            except (OSError, ssl.SSLError, RuntimeError) as exc:
                self._fail(f"connection lost: {exc}")
            else:
                self._fail("connection closed")
            finally:
                # No awaits here: a cancellation (transport stop) must end this task.
                reader_task.cancel()
                writer.close()

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                f = await _read_frame(reader)
                if not (len(f) == 4 and f[0] == REPLY and type(f[1]) is int and type(f[2]) is bool):
                    raise DecodeError("expected a reply frame")
                fut = self.calls.pop(f[1], None)
                if fut is not None and not fut.done():
                    if f[2]:
                        fut.set_result(as_lists(f[3]))
                    else:
                        fut.set_exception(RemoteError(str(f[3])))
        except (OSError, asyncio.IncompleteReadError, DecodeError, ssl.SSLError) as exc:
            log.debug("raft peer connection ended", extra={"peer": self.addr, "error": str(exc)})
        finally:
            self.broken = True
            self.wake.set()


def _drop_when_stalled(writer: asyncio.StreamWriter, seconds: float) -> None:
    """Have the kernel abort the connection once sent data stays unacknowledged for `seconds`
    (Linux TCP_USER_TIMEOUT; elsewhere the connection waits for the kernel's own give-up)."""
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if sock is None or option is None or seconds <= 0:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, option, int(seconds * 1000))


class TCPTransport:
    def __init__(
        self,
        bind_host: str,
        bind_port: int,
        advertise: str = "",
        *,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = 0.5,
        stall_timeout: float = 1.0,
        bind_source: bool = True,
        listen: bool = True,
        handshake_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        frame_timeout: float = 30.0,
    ) -> None:
        """`advertise` ("IP:port") is how peers reach us; default `bind_host:bind_port`.
        `bind_source` dials from `bind_host`, so a per-address firewall rule cuts both ways.
        `listen=False`: someone else owns the listener and hands us connections via `serve`.

        A dropped path (a firewall, a dead host) must be noticed and redialled within an
        election timeout, or a healed server hears nothing for seconds: the kernel keeps an
        established connection in exponential retransmission backoff (2, 4, 8 s…) and a SYN
        is retried after 1 s and then 3 s. So a connection with data unacknowledged for
        `stall_timeout` is dropped (TCP_USER_TIMEOUT), and each dial gives up after
        `connect_timeout` and is retried soon (a fresh SYN goes out as soon as the path heals).

        Inbound, a peer must send the magic within `handshake_timeout` (Consul's
        limits.rpc_handshake_timeout), some frame every `idle_timeout` (a leader's heartbeats
        are far more often; an idle dialer just redials) and a frame's body within
        `frame_timeout` of its length, or the connection is dropped."""
        self.host = bind_host
        self.port = bind_port
        self._advertise = advertise
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self.server_hostname = server_hostname
        self.connect_timeout = connect_timeout
        self.stall_timeout = stall_timeout
        self.bind_source = bind_source and bind_host not in ("0.0.0.0", "::", "")
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.local_id = ""
        self.listen = listen
        self.closed = False
        self._peers: dict[str, _Peer] = {}
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._ids = itertools.count(1)
        self._on_messages: MessageHandler | None = None
        self._on_call: CallHandler | None = None
        self._on_unreachable: UnreachableHandler | None = None
        self._throttle = LogThrottle(log)
        self._prefix: tuple[tuple[str, str], bytes] | None = None

    @property
    def frame_prefix(self) -> bytes:
        """The start of every raft frame we send: array of 4, RAFT, our ID and address."""
        key = (self.local_id, self.address)
        if self._prefix is None or self._prefix[0] != key:
            self._prefix = (key, b"\x94" + msgpack.packb(RAFT) + msgpack.packb(key[0]) + msgpack.packb(key[1]))
        return self._prefix[1]

    @property
    def address(self) -> str:
        return self._advertise or f"{self.host}:{self.port}"

    async def start(
        self,
        local_id: str,
        on_messages: MessageHandler,
        on_call: CallHandler,
        on_unreachable: UnreachableHandler,
    ) -> None:
        self.local_id = local_id
        self._on_messages = on_messages
        self._on_call = on_call
        self._on_unreachable = on_unreachable
        if not self.listen:
            return
        self._server = await asyncio.start_server(
            self.serve, self.host, self.port, ssl=self.server_ssl, reuse_address=True
        )
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.closed = True
        if self._server is not None:
            self._server.close()
        for p in self._peers.values():
            p.wake.set()  # the flag, not only the cancel, ends the task (see _Peer._run)
            p.task.cancel()
            p._fail("")
        for w in list(self._conns):
            w.close()  # their reader loops end on the closed stream
        tasks = [p.task for p in self._peers.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            if pending:
                log.warning("raft peer tasks did not stop", extra={"tasks": [repr(t) for t in pending]})
        self._peers.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _peer(self, addr: str) -> _Peer:
        p = self._peers.get(addr)
        if p is None:
            split_addr(addr)  # ValueError now, rather than a dead sender task later
            p = self._peers[addr] = _Peer(self, addr)
        return p

    def _unreachable(self, addr: str) -> None:
        if self._on_unreachable is not None:
            self._on_unreachable(addr)

    # ------------------------------------------------------------------ outbound
    def send(self, addr: str, messages: list[Message]) -> None:
        if self.closed:
            return
        try:
            p = self._peer(addr)
        except ValueError as exc:
            log.warning("raft: cannot send to a bad address", extra={"address": addr, "error": str(exc)})
            return
        p.msgs.extend(messages)
        p.wake.set()

    async def call(self, addr: str, method: str, body: Any, timeout: float = 5.0) -> Any:
        try:
            p = self._peer(addr)
        except ValueError as exc:
            raise TransportError(str(exc)) from None
        cid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        p.calls[cid] = fut
        p.frames.append(_frame([CALL, cid, method, body]))
        p.wake.set()
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TransportError(f"{addr}: {method} timed out after {timeout}s") from None
        finally:
            p.calls.pop(cid, None)

    # ------------------------------------------------------------------ inbound
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Handle one inbound connection (also the stream handler for a shared listener)."""
        self._conns.add(writer)
        lock = asyncio.Lock()
        calls: set[asyncio.Task[None]] = set()
        peer = str((writer.get_extra_info("peername") or ("?",))[0])
        timer = _ReadTimer(writer, self.idle_timeout, self.frame_timeout)
        try:
            timer.start(self.handshake_timeout)
            if await reader.readexactly(len(MAGIC)) != MAGIC:
                self._throttle.warning(f"magic:{peer}", "rejected a non-raft connection on the server port",
                                       peer=peer)
                return
            assembler = SnapshotAssembler()
            while True:
                f = await _read_frame(reader, timer)
                if f[0] == RAFT:
                    self._deliver(f, assembler, peer)
                elif f[0] == CALL:
                    if not (len(f) == 4 and type(f[1]) is int and 0 <= f[1] < MAX_TERM_OR_INDEX
                            and type(f[2]) is str and len(f[2]) <= MAX_ID_LEN):
                        raise DecodeError("malformed call frame")
                    t = asyncio.get_running_loop().create_task(self._answer(writer, lock, f))
                    calls.add(t)
                    t.add_done_callback(calls.discard)
                else:
                    raise DecodeError(f"unexpected frame kind {str(f[0])[:40]!r}")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        except (DecodeError, ValueError, TypeError) as exc:
            self._throttle.warning(f"frame:{peer}", "bad data on the server port; closing",
                                   peer=peer, error=str(exc))
        finally:
            timer.stop()
            for t in calls:
                t.cancel()
            self._conns.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _deliver(self, f: tuple[Any, ...], assembler: SnapshotAssembler, peer: str) -> None:
        """Hand on the well-formed messages of a raft frame; a malformed one is dropped alone."""
        if not (len(f) == 4 and type(f[1]) is str and type(f[2]) is str and isinstance(f[3], tuple)
                and len(f[1]) <= MAX_ID_LEN and len(f[2]) <= MAX_ID_LEN):
            raise DecodeError("malformed raft frame")
        _, src, src_addr, wires = f
        msgs: list[Message] = []
        for w in wires:
            try:
                m = from_wire(w)
                if isinstance(m, SnapshotChunk):
                    done = assembler.add(m)
                    if done is None:
                        continue
                    m = done
            except DecodeError as exc:
                self._throttle.warning(f"msg:{peer}", "raft: dropped a malformed message",
                                       peer=peer, src=src[:64], error=str(exc))
                continue
            msgs.append(m)
        if msgs:
            assert self._on_messages is not None
            self._on_messages(src, src_addr, msgs)

    async def _answer(self, writer: asyncio.StreamWriter, lock: asyncio.Lock, f: tuple[Any, ...]) -> None:
        _, cid, method, body = f
        assert self._on_call is not None
        try:
            reply = [REPLY, cid, True, await self._on_call(method, as_lists(body))]
        except Exception as exc:  # every error becomes an error reply, never a dead connection
            reply = [REPLY, cid, False, (str(exc) or type(exc).__name__)[:MAX_ERROR_TEXT]]
        try:
            data = _frame(reply)
        except (TypeError, ValueError) as exc:
            data = _frame([REPLY, cid, False, f"unencodable reply: {exc}"])
        async with lock:
            writer.write(data)
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
