"""Small durable-file helpers shared by the Raft stores: framing, atomic replace, dir fsync."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

HEADER = struct.Struct(">II")  # body length, crc32 of body


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body), zlib.crc32(body)) + body


def read_frames(blob: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """(end offset, body) of each valid frame from the start, and the valid prefix length."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + HEADER.size <= len(blob):
        length, crc = HEADER.unpack_from(blob, pos)
        end = pos + HEADER.size + length
        body = blob[pos + HEADER.size : end]
        if len(body) != length or zlib.crc32(body) != crc:
            break
        out.append((end, body))
        pos = end
    return out, pos


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data` so a crash leaves either the old or the new file, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
