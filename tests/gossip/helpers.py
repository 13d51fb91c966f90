"""Shared helpers for the gossip tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `cond` until it holds; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
