"""A server's place in the WAN federation: the WAN gossip pool, the datacenter router it feeds,
and forwarding `?dc=` requests to a server of the named datacenter over its server port.

Only servers join the WAN pool (Consul's rule). Members are named `<node>.<dc>` and carry the
datacenter and server port in their tags; the router keeps datacenter → alive servers from
their events. A forwarded request carries `WAN_FORWARD_HEADER` (the sending datacenter): the
server port admits it only from WAN servers' addresses (agent/forward_gate.py), and the
receiving server answers it itself — a forward is never forwarded again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from pyconsul.agent.dc_router import DatacenterRouter
from pyconsul.api.port import WAN_FORWARD_HEADER
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.errors import ForwardFailed
from pyconsul.coordinate import wire
from pyconsul.coordinate.updater import CoordinateUpdater
from pyconsul.coordinate.vivaldi import Coord, distance
from pyconsul.gocompat.durations import parse_duration
from pyconsul.gossip.config import GossipConfig
from pyconsul.gossip.keyring_query import PoolResult, tally
from pyconsul.gossip.membership import Member, Membership, PoolSpec, consul_tags, member_json
from pyconsul.tls.context import RPCContexts

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent

log = logging.getLogger("pyconsul.wan")

NO_PATH = "No path to datacenter"
# WAN coordinates: an update every COORD_INTERVAL seconds from the WAN probes' RTTs; the tag
# other datacenters read is republished when it moved by more than COORD_REPUBLISH_MOVE seconds,
# else at most every COORD_REPUBLISH seconds (each republish is one gossip broadcast).
COORD_INTERVAL = 5.0
COORD_REPUBLISH = 30.0
COORD_REPUBLISH_MOVE = 0.005


def wan_pool(config: RuntimeConfig) -> PoolSpec:
    """The WAN pool's identity and sockets: `serf_wan` binds it, `advertise_addrs.serf_wan` or
    `advertise_addr_wan` (else the advertise address) is what other datacenters dial."""
    return PoolSpec(
        member_name=f"{config.node_name}.{config.datacenter}",
        bind=config.serf_wan or config.bind_addr,
        port=config.ports.serf_wan,
        advertise=config.advertise_addrs.serf_wan,
        advertise_default=config.advertise_addr_wan or config.advertise(),
        join_port=config.ports.serf_wan,
        allowed_cidrs=tuple(config.serf_wan_allowed_cidrs),
        keep_snapshot=False,
        label="gossip-wan",
    )


def wan_tags(config: RuntimeConfig) -> dict[str, str]:
    """A server's WAN tags: its LAN tags but the WAN join port (the pool's own port)."""
    tags = consul_tags(config)
    tags.pop("wan_join_port", None)
    return tags


def _dial_text(addr: str, exc: BaseException) -> str:
    """Consul's words for a forward that never reached the server."""
    err = getattr(exc, "os_error", exc)
    if isinstance(err, ConnectionRefusedError):
        why = "connect: connection refused"
    elif isinstance(err, TimeoutError | asyncio.TimeoutError) or isinstance(exc, aiohttp.ServerTimeoutError):
        why = "i/o timeout"
    elif isinstance(err, OSError) and err.errno:
        why = f"connect: {os.strerror(err.errno).lower()}"
    else:
        why = str(err) or type(err).__name__
    return f"rpc error getting client: failed to get conn: dial tcp {addr}: {why}"


def answer_timeout(path_qs: str, hold: float) -> float:
    """How long a forwarded request may take to be answered: a blocking query its wait (Consul's
    default 5m, at most 10m) plus the 1/16 jitter servers add, plus `hold`; anything else `hold`
    (rpc_hold_timeout, what a server may hold a request waiting for a leader) plus 2 s. A cut
    link then fails within that instead of after TCP's retransmission timeout."""
    query = parse_qs(urlsplit(path_qs).query)
    if not query.get("index"):
        return hold + 2.0
    try:
        wait = parse_duration(query.get("wait", ["5m"])[0])
    except ValueError:
        wait = 300.0
    wait = min(max(wait, 0.0), 600.0) or 300.0
    return wait + wait / 16 + hold


class WanFederation:
    """The WAN pool of one server, its router, and the cross-datacenter forwarder."""

    def __init__(self, config: RuntimeConfig, rpc_tls: RPCContexts | None = None,
                 lan: Membership | None = None) -> None:
        """`rpc_tls.client`: the server port's client context (verify_outgoing), read per request
        so a reload may swap it. `lan`: the LAN pool, whose keyring the WAN pool shares (Consul
        keeps both pools on the same keys). Raises ValueError for a bad `gossip_wan` setting."""
        self.config = config
        self.rpc_tls = rpc_tls or RPCContexts()
        self.router = DatacenterRouter(config.datacenter, SYSTEM_CLOCK)
        gossip = GossipConfig.from_consul(config.gossip_wan.overrides(), config.reconnect_timeout_wan,
                                          base=GossipConfig.wan_profile(), block="gossip_wan")
        self.membership = Membership(config, wan_tags(config), on_event=self._on_event,
                                     gossip_config=gossip, pool=wan_pool(config), shared_keyring=lan)
        self._session: aiohttp.ClientSession | None = None
        self._coords: asyncio.Task[None] | None = None
        self._published: tuple[Coord, float] | None = None  # (coordinate, when)

    def _on_event(self, kind: str, member: Member) -> None:
        # member-update is mostly a republished WAN coordinate: not worth an INFO line each time.
        level = logging.DEBUG if kind == "member-update" else logging.INFO
        log.log(level, "WAN member event", extra={"event": kind, "member": member.name, "status": member.status})
        self.router.on_member(kind, member)

    async def start(self) -> None:
        await self.membership.start()
        self.router.on_member("member-join", self.membership.local_member())
        updater = CoordinateUpdater()
        self.update_coordinate(updater.coord)  # the origin until probes say more, as Serf starts
        self._coords = asyncio.get_running_loop().create_task(self._coordinate_loop(updater))

    async def _coordinate_loop(self, updater: CoordinateUpdater) -> None:
        """This server's WAN coordinate (Vivaldi over the WAN probes' RTTs, as Serf's WAN pool
        keeps one), published in its WAN tags for the other datacenters' routers."""
        while True:
            await asyncio.sleep(COORD_INTERVAL)
            try:
                samples = self.membership.take_rtts()
                if samples:
                    self.update_coordinate(updater.step(samples, self.router.peer_coordinates()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let a bad sample stop the loop
                log.debug("WAN coordinate update failed", extra={"error": str(exc)})

    def update_coordinate(self, coord: Coord) -> None:
        self.router.local_coord = coord
        now = SYSTEM_CLOCK.monotonic()
        last = self._published
        if last is not None and distance(last[0], coord) < COORD_REPUBLISH_MOVE and now - last[1] < COORD_REPUBLISH:
            return
        self._published = (coord, now)
        self.membership.set_tags({**self.membership.local_member().tags, wire.TAG: wire.encode(coord)})
        self.router.on_member("member-update", self.membership.local_member())

    async def stop(self) -> None:
        if self._coords is not None:
            self._coords.cancel()
        await self.membership.stop()
        if self._session is not None:
            await self._session.close()

    async def leave(self) -> None:
        await self.membership.leave()

    async def join(self, addrs: list[str]) -> int:
        n = int(await self.membership.join(addrs))
        if n == 0:
            raise RuntimeError(self.membership.join_error_text() or f"Failed to join {', '.join(addrs)}")
        return n

    async def keyring_operation(self, op: str, key: str, token: str = "") -> list[PoolResult]:
        """A keyring operation on every WAN member (one "WAN" pool), then on every other
        datacenter's LAN through one of its servers, as Consul's globalRPC fans it out; the
        local LAN is the caller's. A datacenter that cannot be reached fails the operation."""
        answers = await self.membership.keyring_ops.ask_all(op, key)
        pools = [tally(True, self.config.datacenter, answers)]
        method = {"list": "GET", "install": "POST", "use": "PUT", "remove": "DELETE"}[op]
        body = None if op == "list" else json.dumps({"Key": key}).encode()
        headers = {"X-Consul-Token": token} if token else {}
        for dc in self.datacenters():
            if dc == self.config.datacenter:
                continue
            try:
                status, _, data = await self.forward(dc, method, "/v1/operator/keyring", body, headers)
                if status != 200:
                    raise ForwardFailed(data.decode(errors="replace").strip(), delivered=True)
                pools.extend(PoolResult.from_forwarded_json(row) for row in json.loads(data))
            except (ForwardFailed, ValueError) as exc:
                log.warning("keyring operation did not reach a datacenter", extra={"dc": dc, "error": str(exc)})
                pools.append(PoolResult(False, dc, 0, error=str(exc) or NO_PATH))
        return pools

    def members_json(self) -> list[dict[str, Any]]:
        """The WAN members as Consul lists them (the coordinate tag is ours: left out)."""
        out = []
        for m in self.membership.members():
            row = member_json(m)
            row["Tags"] = {k: v for k, v in row["Tags"].items() if k != wire.TAG}
            out.append(row)
        return out

    def datacenters(self) -> list[str]:
        return self.router.datacenters()

    def forwarders(self) -> set[str]:
        """Addresses allowed to send us forwarded requests: the WAN pool's other live servers
        (never this server's own: it answers its own datacenter without forwarding)."""
        me = self.membership.pool.member_name
        return {m.addr for m in self.membership.members() if m.is_server and m.status == "alive" and m.name != me}

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connect = self.config.performance.rpc_hold_timeout  # a cut-off datacenter fails within it
            # Dial from the bind address, the one other datacenters know us by: their server
            # port admits forwards only from WAN servers' addresses.
            bind = self.config.bind_addr
            local = (bind, 0) if bind and bind not in ("0.0.0.0", "::") else None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, local_addr=local),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect), auto_decompress=False)
        return self._session

    async def forward(self, dc: str, method: str, path_qs: str, body: bytes | None,
                      headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """dc's answer to the request, as its server gave it. ForwardFailed with Consul's text
        when no server of dc is known alive (`No path to datacenter`) or none could be reached."""
        servers = self.router.servers(dc)
        if not servers:
            raise ForwardFailed(NO_PATH, delivered=False)
        ctx = self.rpc_tls.client
        scheme = "https" if ctx is not None else "http"
        tls: dict[str, Any] = {"ssl": False}
        if ctx is not None:  # dc's servers carry server.<dc>.<domain>
            tls = {"ssl": ctx, "server_hostname": f"server.{dc}.{self.config.domain.rstrip('.')}"}
        headers = {**headers, WAN_FORWARD_HEADER: self.config.datacenter}
        timeout = aiohttp.ClientTimeout(total=answer_timeout(path_qs, self.config.performance.rpc_hold_timeout),
                                        sock_connect=self.config.performance.rpc_hold_timeout)
        last = ""
        for addr in servers:
            try:
                async with self._session_get().request(method, f"{scheme}://{addr}{path_qs}", data=body,
                                                       headers=headers, timeout=timeout, **tls) as resp:
                    data = await resp.read()
                    self.router.note_ok(addr)
                    return resp.status, dict(resp.headers), data
            except aiohttp.ClientConnectorError as exc:
                self.router.note_failed(addr)  # never reached it: try the next server
                last = _dial_text(addr, exc)
                log.warning("server of another datacenter unreachable", extra={"dc": dc, "server": addr,
                                                                               "error": last})
            except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
                # Connected (perhaps on a pooled connection) but no answer in time: the link is
                # cut or the server hung. The request may have landed, so it is not retried.
                self.router.note_failed(addr)
                log.warning("server of another datacenter did not answer in time",
                            extra={"dc": dc, "server": addr, "error": repr(exc)})
                raise ForwardFailed(f"rpc error making call: {_dial_text(addr, exc).rsplit(': ', 1)[-1]}",
                                    delivered=True) from None
            except aiohttp.ClientError as exc:
                raise ForwardFailed(f"rpc error making call: {exc}", delivered=True) from None
        raise ForwardFailed(last, delivered=False)


async def start_federation(agent: Agent) -> WanFederation | None:
    """Servers join the WAN pool; client agents never do."""
    cfg = agent.config
    if not cfg.server or cfg.ports.serf_wan <= 0:
        return None
    wan = WanFederation(cfg, agent.rpc_tls, agent.membership)
    try:
        await wan.start()
    except OSError as exc:
        # Keep serving the local datacenter (other agents on this host may hold the default
        # port); the WAN pool and ?dc= to other datacenters are unavailable until a restart.
        log.error("WAN pool not started: cannot bind its port", extra={"port": cfg.ports.serf_wan, "error": str(exc)})
        return None
    return wan


FLOOD_INTERVAL = 5.0


def flood_targets(lan_members: list[Member], wan_names: set[str], dc: str) -> list[str]:
    """Consul's flood join: the local datacenter's alive LAN servers missing from the WAN pool,
    as `addr:wan_join_port` (their LAN tags say where their WAN pool listens). Pure."""
    out = []
    for m in lan_members:
        tags = m.tags
        port = tags.get("wan_join_port", "")
        if (m.status != "alive" or tags.get("role") != "consul" or tags.get("dc") != dc or not port.isdigit()
                or f"{m.name}.{dc}" in wan_names):
            continue
        host = f"[{m.addr}]" if ":" in m.addr else m.addr
        out.append(f"{host}:{port}")
    return out


async def flood_join_loop(wan: WanFederation, lan: Membership, interval: float = FLOOD_INTERVAL) -> None:
    """Keep every server of this datacenter in the WAN pool: a server that joined only the LAN
    (as most of a datacenter's servers do) is joined into the WAN by whoever is already there."""
    dc = wan.config.datacenter
    tried: set[str] = set()  # logged at INFO once each; a server that stays unreachable, at DEBUG
    while True:
        await asyncio.sleep(interval)
        try:
            wan_names = {m.name for m in wan.membership.members() if m.status in ("alive", "leaving")}
            targets = flood_targets(lan.members(), wan_names, dc)
            if targets:
                level = logging.DEBUG if tried.issuperset(targets) else logging.INFO
                tried.update(targets)
                log.log(level, "flood-joining servers into the WAN pool", extra={"servers": targets})
                await wan.membership.join(targets)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("WAN flood join failed", extra={"error": str(exc)})


async def join_wan_loop(wan: WanFederation, addrs: list[str], interval: float, max_attempts: int) -> None:
    """retry_join_wan: keep trying every retry_interval_wan until one address joins."""
    attempt = 0
    while addrs and (max_attempts <= 0 or attempt < max_attempts):
        attempt += 1
        try:
            n = await wan.join(addrs)
        except Exception as exc:
            log.warning("WAN join attempt failed", extra={"attempt": attempt, "error": str(exc)})
            await asyncio.sleep(interval)
            continue
        log.info("joined the WAN pool", extra={"members_contacted": n})
        return
    log.error("giving up joining the WAN pool", extra={"attempts": attempt})
