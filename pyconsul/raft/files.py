"""Small durable-file helpers shared by the Raft stores: framing, atomic replace, dir fsync.

Raft's files hold the whole cluster state (and may hold secrets in KV), so they are created
0600 in 0700 directories, and directories left wider by an older version are tightened.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

HEADER = struct.Struct(">II")  # body length, crc32 of body
FILE_MODE = 0o600
DIR_MODE = 0o700


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body), zlib.crc32(body)) + body


def read_frames(blob: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """(end offset, body) of each valid frame from the start, and the valid prefix length.

    An empty frame is not valid: no store writes one, and eight zero bytes (what a crash often
    leaves past the end of the data) would otherwise pass the crc."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + HEADER.size <= len(blob):
        length, crc = HEADER.unpack_from(blob, pos)
        end = pos + HEADER.size + length
        body = blob[pos + HEADER.size : end]
        if length == 0 or len(body) != length or zlib.crc32(body) != crc:
            break
        out.append((end, body))
        pos = end
    return out, pos


def valid_frame_after(blob: bytes, start: int, first_byte: int) -> int:
    """Offset of a valid frame (whose body starts with `first_byte`) somewhere after `start`,
    or -1: tells damage with intact data after it from a torn tail."""
    marker = bytes([first_byte])
    i = blob.find(marker, start + HEADER.size + 1)
    while i != -1:
        q = i - HEADER.size
        length, crc = HEADER.unpack_from(blob, q)
        if 0 < length <= len(blob) - i and zlib.crc32(blob[i : i + length]) == crc:
            return q
        i = blob.find(marker, i + 1)
    return -1


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) 0700; tighten it if it already exists wider."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Tighten a file an older version wrote 0644."""
    if path.stat().st_mode & 0o077:
        os.chmod(path, FILE_MODE)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data` so a crash leaves either the old or the new file, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with open(fd, "wb") as f:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)  # a .tmp left behind by an older version
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
