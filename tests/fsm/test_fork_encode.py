"""Snapshot bytes encoded in a forked child come back whole; a failing encoder fails loudly."""

from __future__ import annotations

import os

import pytest

from pyconsul.fork_encode import ChildFailed, encode_off_loop


async def test_bytes_larger_than_a_pipe_come_back_whole_from_the_child() -> None:
    parent = os.getpid()
    blob = os.urandom(1 << 16) * 80  # 5 MiB: many pipe buffers

    def encode() -> bytes:
        assert os.getpid() != parent  # encoded in the child, not in this interpreter
        return blob

    assert await encode_off_loop(encode) == blob
    assert await encode_off_loop(lambda: b"") == b""


async def test_an_encoder_that_raises_fails_the_snapshot() -> None:
    def encode() -> bytes:
        raise RuntimeError("broken table")

    with pytest.raises(ChildFailed):
        await encode_off_loop(encode)
