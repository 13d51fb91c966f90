"""Reading Consul snapshot archives: gzip'd tar of meta.json, state.bin and SHA256SUMS.

Pure functions over bytes; `verify` raises SnapshotError with the reason Consul would give.
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


def read_archive(data: bytes) -> dict[str, bytes]:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"failed to read snapshot file: {exc}") from None
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for m in tar.getmembers():
                f = tar.extractfile(m)
                if f is not None:
                    members[m.name] = f.read()
    except tarfile.TarError as exc:
        raise SnapshotError(f"failed reading snapshot: {exc}") from None
    return members


def verify(data: bytes) -> dict[str, Any]:
    """Check every file against SHA256SUMS and return the metadata."""
    members = read_archive(data)
    for name in ("meta.json", "state.bin", "SHA256SUMS"):
        if name not in members:
            raise SnapshotError(f"failed reading snapshot: missing {name}")
    for line in members["SHA256SUMS"].decode(errors="replace").splitlines():
        if not line.strip():
            continue
        digest, _, name = line.strip().partition("  ")
        content = members.get(name)
        if content is None:
            raise SnapshotError(f"file {name!r} missing")
        if hashlib.sha256(content).hexdigest() != digest:
            raise SnapshotError(f"sha256 hash mismatch for {name!r}")
    return metadata(members)


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
