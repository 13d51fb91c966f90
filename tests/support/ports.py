"""Ports and loopback addresses for tests that cannot collide with each other.

Binding port 0 picks from the kernel's ephemeral range, which every outgoing connection also
draws its source port from; a port picked that way, released and bound later by a child process
can be taken in between (`[Errno 98] address already in use` under `pytest -n 3`). So:

- Ports come from below the ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), where
  the kernel never hands out source ports.
- That space is cut into blocks. A process leases a block by holding an exclusive `flock` on the
  block's file in a shared directory, so parallel xdist workers — and other test runs on the same
  machine — always own disjoint blocks. The lock dies with the process; nothing to clean up.
- Within its blocks a process hands ports out sequentially and never twice, each one checked
  free for TCP and UDP on every address (0.0.0.0) at hand-out time, so one port serves an agent
  that listens on several loopback addresses or on both protocols.
- The first block leased also gives the process its own loopback /24 (127.77.<block>.0/24; all of
  127/8 reaches `lo` on Linux) for tests that need several hosts or Consul's standard ports.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path

FIRST_PORT = 10000
BLOCK_SIZE = 250
DEFAULT_EPHEMERAL_START = 32768
LEASE_DIR = Path(os.environ.get("PYCONSUL_TEST_LEASE_DIR", "/tmp/pyconsul-test-leases"))
# Another run on the same machine can be given its own prefix (its own /16 of loopbacks).
LOOPBACK_PREFIX = os.environ.get("PYCONSUL_TEST_LOOPBACK_PREFIX", "127.77")


def ephemeral_start(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def block_count() -> int:
    # Loopback blocks are one octet, so at most 256 leases.
    return min(256, (ephemeral_start() - FIRST_PORT) // BLOCK_SIZE)


def is_free(port: int, host: str = "0.0.0.0") -> bool:
    """True when nothing holds `port` on `host` for TCP or UDP (0.0.0.0 means on any address)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


class PortsExhausted(RuntimeError):
    pass


class PortAllocator:
    """Hands out ports from the blocks this process leased; see the module docstring for the rules."""

    def __init__(self, lease_dir: Path = LEASE_DIR) -> None:
        self._lease_dir = lease_dir
        self._lock = threading.Lock()
        self._held: list[int] = []  # lease file descriptors: closing one would free its block
        self._blocks: list[int] = []
        self._next = 0
        self._end = 0

    def _lease_block(self) -> int:
        self._lease_dir.mkdir(parents=True, exist_ok=True)
        for block in range(block_count()):
            if block in self._blocks:
                continue
            fd = os.open(self._lease_dir / f"block-{block}.lock", os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\n".encode())
            self._held.append(fd)
            self._blocks.append(block)
            self._next = FIRST_PORT + block * BLOCK_SIZE
            self._end = self._next + BLOCK_SIZE
            return block
        raise PortsExhausted(f"all {block_count()} port blocks under {self._lease_dir} are leased")

    @property
    def block(self) -> int:
        """The first block this process leased (leases one if none yet)."""
        with self._lock:
            if not self._blocks:
                self._lease_block()
            return self._blocks[0]

    def port(self) -> int:
        """A port no other test process can be handed, free for TCP and UDP on every address now."""
        with self._lock:
            while True:
                if self._next >= self._end:
                    self._lease_block()
                port = self._next
                self._next += 1
                if is_free(port):
                    return port

    def close(self) -> None:
        """Give the leased blocks back (a process's own allocator keeps them until it exits)."""
        with self._lock:
            for fd in self._held:
                os.close(fd)
            self._held, self._blocks, self._next, self._end = [], [], 0, 0

    def host(self, n: int) -> str:
        """Address `n` (1-254) of this process's own loopback /24."""
        if not 1 <= n <= 254:
            raise ValueError(f"host number {n} outside 1-254")
        return f"{LOOPBACK_PREFIX}.{self.block}.{n}"


_allocator = PortAllocator()


def free_port() -> int:
    """A port for this test alone (TCP and UDP, any address); nothing else will be given it."""
    return _allocator.port()


def loopback(n: int) -> str:
    """Address `n` of this test process's own loopback block: no other worker uses it."""
    return _allocator.host(n)


def loopbacks(count: int, first: int = 1) -> list[str]:
    return [loopback(first + i) for i in range(count)]
