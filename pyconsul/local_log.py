"""LocalConsensus: a single server's durable command log (the `Consensus` used before Raft).

Each write is appended to `<data_dir>/local-log/wal.log` as a framed record
(`>II` length + crc32, then msgpack `[index, command bytes]`) and fsync'd before it is applied and
acknowledged. Concurrent writes share one fsync (group commit). Every `snapshot_threshold`
entries the store is snapshotted (temp file + fsync + rename) and the WAL restarts. On start the
snapshot is restored and the WAL replayed; a torn or corrupt tail (a crash mid-write) is cut off —
it was never acknowledged. Without a data_dir (`-dev`) commands are applied in memory only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import msgpack

from pyconsul.consensus import LeaderStatus
from pyconsul.fsm import commands
from pyconsul.fsm.machine import StateMachine

log = logging.getLogger("pyconsul.local_log")

_HEADER = struct.Struct(">II")


def _frame(index: int, data: bytes) -> bytes:
    body = msgpack.packb([index, data], use_bin_type=True)
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def read_wal(path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """Records of a WAL file and the byte length of its valid prefix."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + _HEADER.size <= len(blob):
        length, crc = _HEADER.unpack_from(blob, pos)
        body = blob[pos + _HEADER.size : pos + _HEADER.size + length]
        if len(body) != length or zlib.crc32(body) != crc:
            break
        index, data = msgpack.unpackb(body, raw=False)
        out.append((int(index), bytes(data)))
        pos += _HEADER.size + length
    return out, pos


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalConsensus:
    def __init__(
        self,
        machine: StateMachine,
        data_dir: str = "",
        advertise_addr: str = "127.0.0.1:8300",
        snapshot_threshold: int = 8192,
    ) -> None:
        self.machine = machine
        self.dir = Path(data_dir) / "local-log" if data_dir else None
        self.advertise_addr = advertise_addr
        self.snapshot_threshold = snapshot_threshold
        self.last_index = 0
        self.snapshot_index = 0
        self._since_snapshot = 0
        self._fd: int | None = None
        self._pending: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        snap_path = self.dir / "snapshot.msgpack"
        if snap_path.exists():
            index, data = msgpack.unpackb(snap_path.read_bytes(), raw=False)
            self.machine.restore(data)
            self.last_index = self.snapshot_index = int(index)
        wal = self.dir / "wal.log"
        records, valid = read_wal(wal)
        replayed = 0
        for index, data in records:
            if index <= self.last_index:
                continue
            self.machine.apply(index, data)
            self.last_index = index
            replayed += 1
        self._since_snapshot = replayed
        self._fd = os.open(wal, os.O_WRONLY | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size != valid:
            log.warning("wal: cut a torn tail", extra={"valid_bytes": valid})
            os.ftruncate(self._fd, valid)
            os.fsync(self._fd)
        os.lseek(self._fd, valid, os.SEEK_SET)
        log.info(
            "local log restored",
            extra={"snapshot_index": self.snapshot_index, "replayed": replayed, "last_index": self.last_index},
        )

    async def stop(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ------------------------------------------------------------------ writes
    async def apply(self, command: commands.Command) -> Any:
        data = commands.encode(command)
        if self.dir is None:  # -dev: in memory, no durability to wait for
            self.last_index += 1
            return self.machine.apply(self.last_index, data)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((data, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_loop())
        return await fut

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            first = self.last_index + 1
            blob = b"".join(_frame(first + i, data) for i, (data, _) in enumerate(batch))
            try:
                await asyncio.to_thread(self._write_sync, blob)
            except OSError as exc:
                log.error("wal write failed", extra={"error": str(exc)})
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for i, (data, fut) in enumerate(batch):
                index = first + i
                try:
                    result: Any = self.machine.apply(index, data)
                except Exception as exc:  # an unknown command must fail loudly, not silently
                    result = exc
                self.last_index = index
                if not fut.done():
                    if isinstance(result, commands.UnknownCommand):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
            self._since_snapshot += len(batch)
            if self._since_snapshot >= self.snapshot_threshold:
                await self._snapshot()

    def _write_sync(self, blob: bytes) -> None:
        assert self._fd is not None
        view = memoryview(blob)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    async def _snapshot(self) -> None:
        assert self.dir is not None and self._fd is not None
        index = self.last_index
        data = msgpack.packb([index, self.machine.snapshot()], use_bin_type=True)
        tmp = self.dir / "snapshot.msgpack.tmp"

        def write() -> None:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.dir / "snapshot.msgpack")  # type: ignore[operator]
            _fsync_dir(self.dir)  # type: ignore[arg-type]
            os.ftruncate(self._fd, 0)  # type: ignore[arg-type]
            os.lseek(self._fd, 0, os.SEEK_SET)  # type: ignore[arg-type]
            os.fsync(self._fd)  # type: ignore[arg-type]

        await asyncio.to_thread(write)
        self.snapshot_index = index
        self._since_snapshot = 0
        log.info("snapshot written", extra={"index": index, "bytes": len(data)})

    async def restore_snapshot(self, data: bytes) -> None:
        """Replace the store with a `consul snapshot save` blob; durable before returning."""
        async with self._lock:
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            try:
                self.machine.restore(data)
            except Exception as exc:
                raise ValueError(f"invalid snapshot: {exc}") from exc
            self.last_index = max(self.last_index, self.machine.store.last_index) + 1
            self.machine.store.last_index = self.last_index
            if self.dir is not None:
                await self._snapshot()

    # ------------------------------------------------------------------ status
    async def barrier(self, consistent: bool) -> None:
        return None

    def leader_status(self) -> LeaderStatus:
        return LeaderStatus(True, self.advertise_addr, 0, True)

    def peers(self) -> list[str]:
        return [self.advertise_addr]

    def stats(self) -> dict[str, str]:
        return {
            "state": "Leader",
            "term": "1",
            "last_log_index": str(self.last_index),
            "commit_index": str(self.last_index),
            "applied_index": str(self.last_index),
            "last_snapshot_index": str(self.snapshot_index),
            "num_peers": "0",
            "protocol_version": "3",
        }
