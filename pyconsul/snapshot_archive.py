"""Reading Consul snapshot archives: gzip'd tar of meta.json, state.bin and SHA256SUMS.

Pure functions over bytes; `verify` raises SnapshotError with the reason Consul would give. The
gzip is inflated as a stream with a cap, so a small file cannot grow into gigabytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from typing import Any


class SnapshotError(ValueError):
    pass


def is_archive(data: bytes) -> bool:
    """Consul's snapshot files are gzip streams."""
    return data[:2] == b"\x1f\x8b"


# What a restore may inflate to. The body is capped (16 MiB) but gzip reaches ~1000:1, so the
# archive is read as a stream and refused as soon as it grows past this.
MAX_INFLATED = 512 * 1024 * 1024
MEMBERS = ("meta.json", "state.bin", "SHA256SUMS")
_SMALL_MEMBER = 1024 * 1024  # meta.json and SHA256SUMS are a few hundred bytes
_CHUNK = 64 * 1024


class _CappedGunzip(io.RawIOBase):
    """The gzip stream `data`, decompressed on demand; past `limit` bytes a read raises."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._inflater = zlib.decompressobj(wbits=31)
        self._data = memoryview(data)
        self._pos = 0
        self._pending = b""
        self._limit = limit
        self._produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        want = len(buf)
        while not self._pending:
            if self._inflater.unconsumed_tail:
                self._pending = self._inflater.decompress(self._inflater.unconsumed_tail, _CHUNK)
            elif self._inflater.eof:
                rest = self._inflater.unused_data + self._data[self._pos:]
                self._pos = len(self._data)
                if not rest.strip(b"\0"):
                    return 0
                # Concatenated gzip members are one stream, as gzip.decompress reads them.
                self._inflater = zlib.decompressobj(wbits=31)
                self._pending = self._inflater.decompress(rest, _CHUNK)
            elif self._pos < len(self._data):
                chunk = self._data[self._pos:self._pos + _CHUNK]
                self._pos += len(chunk)
                self._pending = self._inflater.decompress(chunk, _CHUNK)
            else:
                raise SnapshotError("failed to read snapshot file: unexpected EOF")
        n = min(want, len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._produced += n
        if self._produced > self._limit:
            raise SnapshotError(f"failed to read snapshot file: archive inflates past {self._limit} bytes")
        return n


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    # In pieces: one big read makes tarfile join and slice the whole member while holding the
    # GIL, which stalls the event loop for the length of several copies.
    f = tar.extractfile(member)
    if f is None:
        return b""
    pieces = []
    while piece := f.read(_CHUNK * 16):
        pieces.append(piece)
    return b"".join(pieces)


def read_archive(data: bytes, limit: int = MAX_INFLATED) -> dict[str, bytes]:
    """The archive's members by name, inflating at most `limit` bytes (SnapshotError past it, on
    an unknown or repeated member, or a member whose declared size alone is too big)."""
    members: dict[str, bytes] = {}
    try:
        stream = io.BufferedReader(_CappedGunzip(data, limit), _CHUNK)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for m in tar:
                if m.name not in MEMBERS:
                    raise SnapshotError(f"failed reading snapshot: unexpected file {m.name!r} in snapshot")
                if m.name in members:
                    raise SnapshotError(f"failed reading snapshot: file {m.name!r} appears twice")
                cap = limit if m.name == "state.bin" else min(limit, _SMALL_MEMBER)
                if m.size > cap:  # refused from its header, before inflating any of it
                    raise SnapshotError(f"failed reading snapshot: {m.name} is larger than {cap} bytes")
                members[m.name] = _read_member(tar, m)
    except (OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"failed to read snapshot file: {exc}") from None
    except tarfile.TarError as exc:
        raise SnapshotError(f"failed reading snapshot: {exc}") from None
    return members


def verify(data: bytes, limit: int = MAX_INFLATED) -> dict[str, Any]:
    """Check every file against SHA256SUMS and return the metadata."""
    return read_verified(data, limit)[0]


def read_verified(data: bytes, limit: int = MAX_INFLATED) -> tuple[dict[str, Any], bytes]:
    """(metadata, state image) of an archive whose every file SHA256SUMS lists with a matching
    digest; SnapshotError otherwise. CPU-bound: callers on an event loop run it in a thread."""
    if not is_archive(data):
        raise SnapshotError("failed to read snapshot file: gzip: invalid header")
    members = read_archive(data, limit)
    for name in MEMBERS:
        if name not in members:
            raise SnapshotError(f"failed reading snapshot: missing {name}")
    sums: dict[str, str] = {}
    for line in members["SHA256SUMS"].decode(errors="replace").splitlines():
        if not line.strip():
            continue
        digest, sep, name = line.strip().partition("  ")
        if not sep or len(digest) != 64 or name in sums:
            raise SnapshotError(f"failed reading snapshot: malformed SHA256SUMS line {line.strip()[:80]!r}")
        sums[name] = digest.lower()
    for name in MEMBERS[:2]:
        if name not in sums:
            raise SnapshotError(f"missing sha256 hash for {name!r} in SHA256SUMS")
    for name, digest in sums.items():
        content = members.get(name)
        if content is None:
            raise SnapshotError(f"file {name!r} missing")
        if hashlib.sha256(content).hexdigest() != digest:
            raise SnapshotError(f"sha256 hash mismatch for {name!r}")
    return metadata(members), members["state.bin"]


def metadata(members: dict[str, bytes]) -> dict[str, Any]:
    try:
        meta = json.loads(members["meta.json"])
    except (KeyError, ValueError) as exc:
        raise SnapshotError(f"failed to read snapshot metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise SnapshotError("failed to read snapshot metadata: not an object")
    return meta


def build(meta: dict[str, Any], state: bytes) -> bytes:
    """An archive in Consul's layout (used by tests and tools that need a valid file)."""
    meta_bytes = json.dumps(meta).encode()
    files = {"meta.json": meta_bytes, "state.bin": state}
    sums = "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in files.items()).encode()
    files["SHA256SUMS"] = sums
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buf.getvalue())
