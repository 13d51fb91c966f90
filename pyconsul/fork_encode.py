"""Encoding a snapshot in a forked child, so the server's own interpreter never waits for it.

A thread would share the interpreter lock with the event loop: encoding a 40 MB catalog takes
seconds of CPU, and the loop's requests, Raft heartbeats and applies would wait for the lock in
turns all that time. A child made by fork() has the captured rows already (copy-on-write pages),
runs the encoder on the other core and sends the bytes back through a pipe, which the server
reads in a thread (reads release the lock). The child only encodes and writes: it takes no lock
another thread could have held at the fork (no logging, no metrics) and leaves with os._exit.
Where fork is missing or fails, the encoder runs in a thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

log = logging.getLogger("pyconsul.snapshot")

_READ = 1 << 20


class ChildFailed(RuntimeError):
    """The encoding child exited without sending a whole snapshot."""


async def encode_off_loop(encode: Callable[[], bytes]) -> bytes:
    """`encode()`'s bytes, computed in a forked child (a thread where fork is unavailable)."""
    if not hasattr(os, "fork"):
        return await asyncio.to_thread(encode)
    try:
        r, w = os.pipe()
    except OSError as exc:  # out of descriptors (EMFILE): a thread needs none
        log.warning("snapshot: cannot open a pipe to the encoder; encoding in a thread", extra={"error": str(exc)})
        return await asyncio.to_thread(encode)
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(r)
        os.close(w)
        log.warning("snapshot: cannot fork to encode it; encoding in a thread", extra={"error": str(exc)})
        return await asyncio.to_thread(encode)
    if pid == 0:  # the child
        code = 1
        try:
            os.close(r)
            view = memoryview(encode())
            size = len(view).to_bytes(8, "big")
            os.write(w, size)
            while view:
                view = view[os.write(w, view[:_READ]):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        data = await asyncio.to_thread(_read_all, r)
    finally:
        os.close(r)
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    if status != 0 or data is None:
        raise ChildFailed(f"snapshot encoder exited with status {status}")
    return data


def _read_all(fd: int) -> bytes | None:
    head = b""
    while len(head) < 8:
        got = os.read(fd, 8 - len(head))
        if not got:
            return None
        head += got
    size = int.from_bytes(head, "big")
    buf = bytearray(size)
    view, n = memoryview(buf), 0
    while n < size:
        got = os.readv(fd, [view[n:n + _READ]])
        if got == 0:
            return None
        n += got
    return bytes(buf)
