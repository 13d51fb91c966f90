"""The agent side of keyring operations: answer a member's query on our own keyring (persisting
it), and fan an operation out to every alive member and tally the answers per pool.

LAN: every alive member. WAN: the servers among them (pyconsul's WAN pool is its servers, named
`<node>.<dc>`), so a server-side list shows both pools as Consul does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pyconsul.gossip.crypto import Keyring
from pyconsul.gossip.keyring_file import write_keyring
from pyconsul.gossip.keyring_query import (
    NodeAnswer,
    PoolResult,
    answer,
    decode_answer,
    decode_query,
    encode_answer,
    encode_query,
    tally,
)

log = logging.getLogger("pyconsul.gossip")

Address = tuple[str, int]


class Exchanger(Protocol):
    async def exchange(self, dest: Address, payload: bytes) -> bytes: ...


class Peer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def addr(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def is_server(self) -> bool: ...


class KeyringOps:
    def __init__(self, keyring: Keyring | None, path: Path | None, local_name: str, datacenter: str,
                 transport: Exchanger, members: Callable[[], list[Peer]], timeout: float = 5.0) -> None:
        self.keyring = keyring
        self._path = path
        self._name = local_name
        self._dc = datacenter
        self._transport = transport
        self._members = members
        self._timeout = timeout

    def apply(self, op: str, key: str) -> NodeAnswer:
        """Apply one operation here, writing the keyring file when it changed."""
        result, changed = answer(self.keyring, op, key)
        if changed and self.keyring is not None:
            log.info("gossip: keyring %s done; primary %s, %d keys", op, "changed" if op == "use" else "kept",
                     len(self.keyring.keys))
            if self._path is not None:
                try:
                    write_keyring(self._path, self.keyring)
                except OSError as exc:
                    log.error("gossip: failed to write keyring file %s: %s", self._path, exc)
                    return NodeAnswer(result.keys, result.primary, f"Failed to write keyring file: {exc}")
        return result

    def answer_query(self, payload: bytes) -> bytes:
        """A member's query arriving over gossip TCP; the reply frame."""
        try:
            op, key = decode_query(payload)
        except ValueError as exc:
            return encode_answer(NodeAnswer(error=str(exc)))
        return encode_answer(self.apply(op, key))

    async def ask_all(self, op: str, key: str) -> dict[str, NodeAnswer | None]:
        """Every alive member's answer (this agent's included), by member name."""
        peers = [m for m in self._members() if m.status == "alive"]
        answers = await asyncio.gather(*(self._ask(m, op, key) for m in peers))
        return {m.name: a for m, a in zip(peers, answers, strict=True)}

    async def run(self, op: str, key: str) -> list[PoolResult]:
        """Ask every alive member (this agent included); WAN pool first when there are servers."""
        server_names = {m.name for m in self._members() if m.is_server}
        by_node = await self.ask_all(op, key)
        pools = []
        servers = {f"{name}.{self._dc}": a for name, a in by_node.items() if name in server_names}
        if servers:
            pools.append(tally(True, self._dc, servers))
        pools.append(tally(False, self._dc, by_node))
        return pools

    async def _ask(self, peer: Peer, op: str, key: str) -> NodeAnswer | None:
        if peer.name == self._name:
            return self.apply(op, key)
        try:
            reply = await asyncio.wait_for(self._transport.exchange((peer.addr, peer.port), encode_query(op, key)),
                                           self._timeout)
            return decode_answer(reply)
        except (OSError, TimeoutError, ConnectionError, ValueError) as exc:
            log.warning("gossip: keyring %s: no answer from %s: %s", op, peer.name, exc)
            return None
