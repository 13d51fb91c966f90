"""The UI's files on disk: safe path lookup, content types and strong ETags (no sockets here).

A file's bytes and ETag are cached by (mtime, size), so a -ui-dir edited while the agent runs is
served fresh, and an unchanged file costs one stat per request.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    etag: str  # quoted, strong
    content_type: str
    mtime: float


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against our strong ETag."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class StaticDir:
    """Files under `root`; `lookup` never leaves it (no `..`, no symlinks pointing out)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[int, int, StaticFile]] = {}

    def lookup(self, rel: str) -> StaticFile | None:
        if not rel or "\x00" in rel or any(part in ("..", "") for part in rel.split("/")):
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        hit = self._cache.get(path)
        if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        try:
            body = path.read_bytes()
        except OSError:
            return None
        ctype = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        f = StaticFile(body, etag_of(body), ctype, st.st_mtime)
        self._cache[path] = (st.st_mtime_ns, st.st_size, f)
        return f

    def exists(self) -> bool:
        return os.path.isdir(self.root)
