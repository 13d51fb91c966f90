"""The agent's view of the LAN gossip pool: start, join, leave, force-leave, members.

`Membership` drives a `GossipCore` with a `GossipTransport`: it ticks the core at its next
deadline, sends what the core queues, feeds it what arrives, and turns core events into
`on_event(kind, Member)` calls (kinds: member-join, member-leave, member-failed, member-update,
member-reap). Call everything from the event loop that ran `start()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pyconsul import CONSUL_COMPAT_VERSION
from pyconsul.clock import SYSTEM_CLOCK, Clock
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.gossip.config import GossipConfig
from pyconsul.gossip.core import Address, GossipCore, Outgoing
from pyconsul.gossip.keyring_file import keyring_path, load_keyring
from pyconsul.gossip.keyring_ops import KeyringOps
from pyconsul.gossip.keyring_query import is_query
from pyconsul.gossip.messages import DecodeError, Message, decode_packet, encode_packet
from pyconsul.gossip.snapshot import MemberSnapshot, SnapshotState
from pyconsul.gossip.state import NodeState, NodeStatus
from pyconsul.gossip.transport import MAX_DATAGRAM, GossipTransport

log = logging.getLogger("pyconsul.gossip")

# Consul's serf.MemberStatus codes in /v1/agent/members.
STATUS_CODES = {"none": 0, "alive": 1, "leaving": 2, "left": 3, "failed": 4}


@dataclass(frozen=True)
class Member:
    name: str
    addr: str
    port: int
    tags: dict[str, str] = field(hash=False)
    status: str  # "alive" | "leaving" | "left" | "failed"

    @property
    def is_server(self) -> bool:
        return self.tags.get("role") == "consul"


EventCallback = Callable[[str, Member], None]


def member_json(m: Member) -> dict[str, Any]:
    """One entry of `/v1/agent/members`, as Consul renders it."""
    return {
        "Name": m.name, "Addr": m.addr, "Port": m.port, "Tags": dict(m.tags),
        "Status": STATUS_CODES.get(m.status, 0),
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    }


def consul_tags(config: RuntimeConfig) -> dict[str, str]:
    """The serf tags a Consul agent advertises on the LAN pool for this configuration."""
    tags = {
        "build": f"{CONSUL_COMPAT_VERSION}:pyconsul",
        "dc": config.datacenter,
        "ft_fs": "1",
        "ft_si": "1",
        "id": config.node_id,
        "role": "consul" if config.server else "node",
        "segment": "",
        "vsn": "2",
        "vsn_max": "3",
        "vsn_min": "2",
    }
    if config.server:
        tags.update({"acls": "0", "port": str(config.ports.server), "raft_vsn": "3",
                     "wan_join_port": str(config.ports.serf_wan)})
        if config.bootstrap:
            tags["bootstrap"] = "1"
        if config.bootstrap_expect:
            tags["expect"] = str(config.bootstrap_expect)
    return tags


def parse_join_address(text: str, default_port: int) -> tuple[str, int]:
    """"IP", "IP:port", "host", "[v6]:port" → (host, port); ValueError with the bad text."""
    text = text.strip()
    if not text:
        raise ValueError("empty join address")
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"invalid join address {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid join address {text!r}")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p, text)
    return host, port


def _dial_error(dest: tuple[str, int], exc: BaseException) -> str:
    """Go's net error text for a failed TCP dial / exchange."""
    dial = f"dial tcp {dest[0]}:{dest[1]}"
    if isinstance(exc, ConnectionRefusedError):
        return f"{dial}: connect: connection refused"
    if isinstance(exc, TimeoutError):
        return f"{dial}: i/o timeout"
    if isinstance(exc, OSError) and exc.errno:
        return f"{dial}: connect: {os.strerror(exc.errno).lower()}"
    return str(exc) or type(exc).__name__


def _port(p: str, text: str) -> int:
    if not p.isdigit() or not 0 < int(p) < 65536:
        raise ValueError(f"invalid port in join address {text!r}")
    return int(p)


@dataclass(frozen=True)
class PoolSpec:
    """Which gossip pool a `Membership` runs: the LAN pool (the default, from the config) or a
    server's WAN pool (member name `<node>.<dc>`, its own port, no member snapshot)."""

    member_name: str
    bind: str
    port: int
    advertise: str  # "ip" or "ip:port"; "" for the agent's advertise address
    advertise_default: str
    join_port: int
    allowed_cidrs: tuple[str, ...] = ()
    keep_snapshot: bool = True
    label: str = "gossip"

    @classmethod
    def lan(cls, config: RuntimeConfig) -> PoolSpec:
        # `serf_lan` overrides bind_addr for the LAN pool only, as in Consul.
        return cls(config.node_name, config.serf_lan or config.bind_addr, config.ports.serf_lan,
                   config.advertise_addrs.serf_lan, config.advertise(), config.ports.serf_lan,
                   tuple(config.serf_lan_allowed_cidrs))


class Membership:
    def __init__(
        self,
        config: RuntimeConfig,
        tags: dict[str, str],
        clock: Clock = SYSTEM_CLOCK,
        on_event: EventCallback | None = None,
        rng: random.Random | None = None,
        ssl_server: ssl.SSLContext | None = None,
        ssl_client: ssl.SSLContext | None = None,
        gossip_config: GossipConfig | None = None,
        pool: PoolSpec | None = None,
        shared_keyring: Membership | None = None,
    ) -> None:
        """Raises ValueError for a bad `encrypt` key, keyring file or `gossip_lan` setting.
        `shared_keyring`: another pool whose keyring this one uses (the same object, so a key
        installed, used or removed there applies here at once)."""
        self._config = config
        self.pool = pool = pool or PoolSpec.lan(config)
        self._tags = dict(tags)
        self._clock = clock
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._gossip = gossip_config or GossipConfig.from_consul(
            config.gossip_lan.overrides(), config.reconnect_timeout)
        keyring = shared_keyring.keyring if shared_keyring is not None else load_keyring(config)
        self.keyring = keyring
        self._transport = GossipTransport(
            pool.bind, pool.port,
            self._on_packet, self._on_stream,
            keyring=keyring, ssl_server=ssl_server, ssl_client=ssl_client,
            allowed_cidrs=list(pool.allowed_cidrs),
            verify_incoming=config.encrypt_verify_incoming, verify_outgoing=config.encrypt_verify_outgoing)
        # Shares the transport's keyring object, so a change takes effect on the next message.
        self.keyring_ops = KeyringOps(keyring, keyring_path(config), pool.member_name, config.datacenter,
                                      self._transport, self.members)
        self._core: GossipCore | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._left = False
        self._leave_intents: dict[str, float] = {}  # forced out while alive -> when
        self.last_join_errors: list[str] = []
        self._snapshot = (MemberSnapshot(config.data_dir)
                          if config.data_dir and not config.dev and pool.keep_snapshot else None)

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def core(self) -> GossipCore:
        if self._core is None:
            raise RuntimeError("membership not started")
        return self._core

    @property
    def port(self) -> int:
        return self._transport.port

    @property
    def bound(self) -> tuple[str, int]:
        return self._transport.bound

    async def start(self) -> None:
        await self._transport.start()
        name = self.pool.member_name
        addr, port = self.advertised_address()
        self._core = GossipCore(name, addr, port, self._tags, self._gossip, self._clock, self._rng)
        self._left = False
        rejoin = self._snapshot.rejoin_addresses(self._config.rejoin_after_leave) if self._snapshot else []
        self._task = asyncio.create_task(self._run(), name="gossip")
        if rejoin:
            log.info("gossip: attempting re-join to previously known nodes: %s", ", ".join(rejoin))
            self._spawn(self._rejoin(rejoin))

    async def _rejoin(self, addrs: list[str]) -> None:
        joined = await self.join(addrs)
        log.info("gossip: re-joined %d of %d previously known nodes", joined, len(addrs))

    def advertised_address(self) -> tuple[str, int]:
        """What other members dial: `advertise_addrs.serf_lan` ("ip" or "ip:port"), else the
        agent's advertise address and the bound port."""
        adv = self.pool.advertise
        if adv:
            return parse_join_address(adv, self._transport.port)
        return self.pool.advertise_default, self._transport.port

    async def stop(self) -> None:
        """Stop gossiping without announcing anything (others will see this member fail)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for t in list(self._sends):
            t.cancel()
        await self._transport.close()

    async def leave(self, timeout: float = 5.0) -> None:
        """Gracefully leave: announce it, wait (up to `timeout`) until it was gossiped, then stop."""
        core = self.core
        core.leave()
        self._flush()
        deadline = asyncio.get_running_loop().time() + timeout
        while core.pending_broadcasts() and core.has_live_peers() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self._gossip.gossip_interval / 2)  # gossip rounds drain the queue
        self._left = True
        self._save_snapshot()
        await self.stop()

    # ---- operations -----------------------------------------------------------------------

    async def join(self, addrs: list[str]) -> int:
        """Push/pull with each address; returns how many answered. Bad addresses raise ValueError."""
        targets = [parse_join_address(a, self.pool.join_port) for a in addrs]
        self.last_join_errors = []
        results = await asyncio.gather(*(self._join_one(t) for t in targets))
        self._wake.set()
        return sum(results)

    def join_error_text(self) -> str:
        """The last join's failures as Consul words them (hashicorp/go-multierror)."""
        errs = self.last_join_errors
        if not errs:
            return ""
        head = "1 error occurred:" if len(errs) == 1 else f"{len(errs)} errors occurred:"
        return head + "\n\t" + "\n\t".join(f"* {e}" for e in errs) + "\n\n"

    async def _join_one(self, target: tuple[str, int]) -> bool:
        host, port = target
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=self._transport.family,
                                                                 type=socket.SOCK_DGRAM)
        except OSError:
            self.last_join_errors.append(f"Failed to resolve {host}: lookup {host}: no such host")
            return False
        dest = (infos[0][4][0], port)
        try:
            reply = await self._transport.exchange(dest, encode_packet([self.core.push_pull_message(join=True)]))
            self._on_reply(dest, reply)
            return True
        except (OSError, TimeoutError, DecodeError) as exc:
            self.last_join_errors.append(f"Failed to join {dest[0]}:{port}: {_dial_error(dest, exc)}")
            log.warning("gossip: join %s:%d failed: %s", host, port, exc)
            return False

    def force_leave(self, node: str, prune: bool = False) -> bool:
        """Force `node` into the left state cluster-wide (`prune`: remove it from every member list).
        False when the node is unknown (or is this agent)."""
        before = self.core.get(node) if not prune else None
        ok = self.core.force_leave(node, prune)
        if ok and before is not None and not before.status.gone:
            # Serf shows a live member that is forced out as `leaving` until it refutes (alive
            # again) or is found gone; a failed member goes straight to `left`.
            self._leave_intents[node] = self._clock.monotonic()
        self._flush()
        return ok

    def set_tags(self, tags: dict[str, str]) -> None:
        self._tags = dict(tags)
        self.core.set_tags(tags)
        self._flush()

    @staticmethod
    def member_json(m: Member) -> dict[str, Any]:
        return member_json(m)

    def members(self) -> list[Member]:
        core = self.core
        return [self._member(n) for n in core.nodes()]

    def take_rtts(self) -> list[tuple[str, float]]:
        """Probe round-trip times measured since the last call (none before start)."""
        return self._core.take_rtts() if self._core is not None else []

    def local_member(self) -> Member:
        return self._member(self.core.local)

    def _member(self, node: NodeState) -> Member:
        core = self.core
        if node.name == core.name:
            status = "left" if self._left else ("leaving" if core.leaving else "alive")
        else:
            status = {NodeStatus.ALIVE: "alive", NodeStatus.SUSPECT: "alive",
                      NodeStatus.DEAD: "failed", NodeStatus.LEFT: "left"}[node.status]
            if node.name in self._leave_intents:
                status = self._forced_status(node, status)
        return Member(node.name, node.addr, node.port, dict(node.tags), status)

    def _forced_status(self, node: NodeState, status: str) -> str:
        """`leaving` for a live member we forced out, while it has had time to refute."""
        since = self._leave_intents[node.name]
        if node.status is not NodeStatus.LEFT:
            del self._leave_intents[node.name]  # it refuted (or failed): its own status again
            return status
        if self._clock.monotonic() - since < self._leaving_window():
            return "leaving"
        del self._leave_intents[node.name]
        return status

    def _leaving_window(self) -> float:
        # As long as a probe round plus suspicion would take to find a silent member gone.
        g = self._gossip
        return g.probe_interval * (1 + g.suspicion_mult)

    # ---- driving the core -----------------------------------------------------------------

    async def _run(self) -> None:
        core = self.core
        loop = asyncio.get_running_loop()
        while True:
            core.tick()
            self._flush()
            self._wake.clear()  # our own flush is no reason to wake
            delay = max(0.0, core.next_deadline() - self._clock.monotonic())
            # A timer plus a plain Event.wait: asyncio.wait_for can swallow a cancel on 3.11.
            timer = loop.call_later(min(delay, 1.0), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()

    def _on_packet(self, src: Address, payload: bytes) -> None:
        if self._core is None:
            return
        try:
            msgs = decode_packet(payload)
        except DecodeError as exc:
            self._transport.warn_throttled(src[0], "gossip: bad packet from %s:%d: %s", src[0], src[1], exc)
            return
        replies = self._core.handle_packet(src, msgs)
        if replies:
            self._send_udp(src, replies)
        self._flush()

    def _on_stream(self, src: Address, payload: bytes) -> bytes:
        if self._core is None:
            return encode_packet([])
        if is_query(payload):
            return self.keyring_ops.answer_query(payload)
        try:
            msgs = decode_packet(payload)
        except DecodeError as exc:
            self._transport.warn_throttled(src[0], "gossip: bad stream from %s:%d: %s", src[0], src[1], exc)
            return encode_packet([])
        replies = self._core.handle_packet(src, msgs, reliable=True)
        self._flush()
        return encode_packet(replies)

    def _on_reply(self, src: Address, payload: bytes) -> None:
        self.core.handle_packet(src, decode_packet(payload), reliable=True)
        self._flush()

    def _send_udp(self, dest: Address, msgs: list[Message] | tuple[Message, ...]) -> None:
        data = encode_packet(msgs)
        if len(data) > MAX_DATAGRAM:
            self._spawn_exchange(Outgoing(dest, tuple(msgs), True))
        else:
            self._transport.send_packet(dest, data)

    def _spawn_exchange(self, out: Outgoing) -> None:
        async def run() -> None:
            try:
                reply = await self._transport.exchange(out.dest, encode_packet(out.messages))
                if self._core is not None:
                    self._on_reply(out.dest, reply)
            except (OSError, TimeoutError, DecodeError, ConnectionError) as exc:
                log.debug("gossip: tcp to %s:%d failed: %s", out.dest[0], out.dest[1], exc)

        self._spawn(run())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _save_snapshot(self) -> None:
        if self._snapshot is None or self._core is None:
            return
        addrs = sorted((f"[{m.addr}]:{m.port}" if ":" in m.addr else f"{m.addr}:{m.port}") for m in self._core.nodes()
                       if m.name != self._core.name and m.status in (NodeStatus.ALIVE, NodeStatus.SUSPECT))
        self._snapshot.save(SnapshotState(addrs, self._left))

    def _flush(self) -> None:
        core = self._core
        if core is None:
            return
        for out in core.take_outbox():
            if out.reliable:
                self._spawn_exchange(out)
            else:
                self._send_udp(out.dest, out.messages)
        events = core.take_events()
        if events:
            self._save_snapshot()
        for ev in events:
            member = self._member(ev.node)
            log.info("gossip: %s %s (%s:%d)", ev.kind, member.name, member.addr, member.port)
            if self._on_event is not None:
                try:
                    self._on_event(ev.kind, member)
                except Exception:  # a faulty listener must not stop gossip
                    log.exception("gossip: event handler failed for %s %s", ev.kind, member.name)
        self._wake.set()
