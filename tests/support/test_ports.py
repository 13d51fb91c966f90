"""The port allocator: disjoint blocks per process, below the ephemeral range, never a port twice,
never one someone else holds; each process its own loopback block. These allocators lease from
the shared lease directory like every other, so they cannot disturb a test running beside them."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import (
    BLOCK_SIZE,
    FIRST_PORT,
    LEASE_DIR,
    LOOPBACK_PREFIX,
    PortAllocator,
    ephemeral_start,
    is_free,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def alloc() -> Iterator[PortAllocator]:
    a = PortAllocator()
    yield a
    a.close()


def test_ports_are_below_the_ephemeral_range_unique_and_free_for_tcp_and_udp(alloc: PortAllocator) -> None:
    ports = [alloc.port() for _ in range(BLOCK_SIZE + 10)]  # crosses into a second block
    assert len(set(ports)) == len(ports)
    assert all(FIRST_PORT <= p < ephemeral_start() for p in ports)
    for port in ports[-5:]:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("0.0.0.0", port))  # would raise if the allocator had handed out a busy port


def test_a_port_somebody_holds_is_skipped(alloc: PortAllocator) -> None:
    first = alloc.port()
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # UDP only: TCP alone would look free
    held.bind(("127.0.0.1", first + 1))
    try:
        assert not is_free(first + 1)
        assert alloc.port() == first + 2
    finally:
        held.close()


def test_processes_lease_disjoint_blocks_and_loopbacks_and_give_them_back_on_exit() -> None:
    script = ("import json, sys; from tests.support.ports import PortAllocator;"
              "a = PortAllocator(); print(json.dumps([a.block, a.host(1)] + [a.port() for _ in range(20)]));"
              "sys.stdout.flush(); sys.stdin.read()")  # hold the lease until told to go
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    try:
        answers = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
    finally:
        for p in procs:
            p.communicate("", timeout=10)
    ports = [set(a[2:]) for a in answers]
    assert not (ports[0] & ports[1] or ports[0] & ports[2] or ports[1] & ports[2])
    assert len({a[1] for a in answers}) == 3
    for proc, (block, *_) in zip(procs, answers, strict=True):
        path = LEASE_DIR / f"block-{block}.lock"
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # taken again at once by another test process: not by the dead one
            assert path.read_text().split()[0] != str(proc.pid)
        finally:
            os.close(fd)


def test_own_loopback_addresses_can_be_bound(alloc: PortAllocator) -> None:
    assert alloc.host(7) == f"{LOOPBACK_PREFIX}.{alloc.block}.7"
    with socket.socket() as s:
        s.bind((alloc.host(7), alloc.port()))
        s.listen()
