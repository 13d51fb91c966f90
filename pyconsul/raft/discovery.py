"""Which servers exist, who bootstraps the cluster, and who the leader adds or removes.

Servers learn about each other two ways: a `raft.join` call over the Raft transport to the
`start_join`/`retry_join` addresses (the reply lists every server the callee knows, so a chain of
joins still reaches everyone), and `note_server()` from the gossip layer when it sees a server
member. With `bootstrap_expect = N`, nothing happens until N servers know each other and none of
them has Raft state; then the server with the lowest ID writes the first configuration (all N
as voters) and the others, holding no configuration, simply vote it in and follow. Afterwards the
leader adds every live server it hears of that is not yet a voter (one change at a time), and
removes servers that left.

Membership changes come only from the leader's own reconcile of what gossip reports: a server
known only from a `raft.join` call (anyone can make one) helps servers find each other before
the cluster exists (only without gossip: with it, only servers gossip reports count towards
`bootstrap_expect`), but is never added as a voter, never replaces a voter at the same address and
never moves a voter's address. `raft.remove` removes only the caller itself, and only once that
server, called back at its configured address, confirms it is leaving; removing another server is
the operator endpoint's job, on the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pyconsul.consensus.errors import NoLeader, NotLeader
from pyconsul.raft.core import ConfigChangeInProgress, Role
from pyconsul.raft.node import RaftNode
from pyconsul.raft.tcp_transport import split_addr
from pyconsul.raft.transport import RemoteError, TransportError

log = logging.getLogger("pyconsul.raft.discovery")

SEEN_FRESH = 30.0  # a server heard from within this many seconds counts as alive for adding


@dataclass
class ServerInfo:
    id: str
    name: str
    addr: str
    has_state: bool = False
    seen: float = 0.0  # monotonic time we last heard from it
    vouched: bool = False  # gossip reported it (not just a join call naming it)


class Discovery:
    def __init__(
        self,
        node: RaftNode,
        me: ServerInfo,
        join_addrs: list[str],
        *,
        bootstrap_expect: int = 0,
        server_port: int = 8300,
        serf_port: int = 8301,
        interval: float = 1.0,
    ) -> None:
        self.node = node
        self.me = me
        self.join_addrs = list(join_addrs)
        self.bootstrap_expect = bootstrap_expect
        self.server_port = server_port
        self.serf_port = serf_port
        self.interval = interval
        self.known: dict[str, ServerInfo] = {}
        # Servers that left -> the boot ID of the run that left ("" when unknown, e.g. an operator's
        # remove-peer): joins from that same run are stale and ignored; a restart is welcome.
        self.left: dict[str, str] = {}
        self.boot = secrets.token_hex(8)
        self.failed: set[str] = set()  # gossip says these servers are dead (autopilot cleans up)
        self.leaving = False  # set before this server leaves: stop announcing ourselves
        self.cleanup_dead_servers = True
        # With gossip, only servers it reported count towards bootstrap_expect, from the start:
        # anyone can make a join call, and one made before gossip has reported anything would
        # otherwise put a made-up voter into the first configuration.
        self.bootstrap_from_gossip_only = False
        self._tasks: list[asyncio.Task[None]] = []
        node.call_handlers["raft.join"] = self.handle_join
        node.call_handlers["raft.remove"] = self.handle_remove
        node.call_handlers["raft.leaving"] = self.handle_leaving

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._join_loop()), loop.create_task(self._reconcile_loop())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    # ------------------------------------------------------------------ knowledge
    def server_addr(self, addr: str) -> str:
        """A join address as a server-port address ("IP" → IP:server port; the serf port maps to
        the server port, since `-join` addresses name the gossip port in Consul)."""
        host, port = split_addr(addr, self.server_port)
        if port == self.serf_port:
            port = self.server_port
        return f"{host}:{port}"

    def note_server(self, server_id: str, name: str, addr: str, has_state: bool = False,
                    vouched: bool = True) -> None:
        """A live server exists. `vouched` when gossip says so (the default: the agent's member
        events call this); False for what join calls claim, which only helps bootstrapping."""
        if not server_id or server_id == self.me.id:
            return
        if server_id in self.left and not vouched:
            return
        if vouched:
            self.left.pop(server_id, None)
            self.failed.discard(server_id)
        info = self.known.get(server_id)
        if info is None:
            info = self.known[server_id] = ServerInfo(server_id, name, addr)
            log.info("raft: learned of server", extra={"id": server_id, "server": name, "address": addr})
        if vouched or not info.vouched:  # a join call cannot change what gossip reported
            info.name, info.addr = name or info.name, addr or info.addr
        info.seen = time.monotonic()
        info.vouched = info.vouched or vouched
        info.has_state = info.has_state or has_state
        if addr and server_id not in self.node.voters() and info.addr == addr:
            self.node.addrs[server_id] = addr  # a voter's address changes only by configuration

    def note_left(self, server_id: str, boot: str = "") -> None:
        """A server left the cluster for good (graceful leave): the leader removes it."""
        self.left[server_id] = boot
        self.known.pop(server_id, None)

    def note_failed(self, server_id: str) -> None:
        """Gossip declared a server dead; the leader may remove it (autopilot's dead-server
        cleanup) as long as most voters stay healthy."""
        if server_id and server_id != self.me.id:
            self.failed.add(server_id)

    def name_of(self, server_id: str) -> str:
        if server_id == self.me.id:
            return self.me.name
        info = self.known.get(server_id)
        return info.name if info else ""

    def _my_info(self) -> dict[str, Any]:
        return {"id": self.me.id, "name": self.me.name, "addr": self.me.addr, "has_state": self.node.has_state(),
                "boot": self.boot}

    # ------------------------------------------------------------------ calls
    async def handle_join(self, body: Any) -> Any:
        if not isinstance(body, dict) or not body.get("id") or not body.get("addr"):
            raise ValueError("raft.join needs id and addr")
        sid = str(body["id"])
        if sid in self.left and self.left[sid] and self.left[sid] == body.get("boot"):
            raise ValueError("this server has left the cluster")
        self.note_server(str(body["id"]), str(body.get("name", "")), str(body["addr"]), bool(body.get("has_state")),
                         vouched=False)
        if not body.get("forwarded") and self.node.role is not Role.LEADER and self.node.leader_addr:
            fwd = {**body, "forwarded": True}
            asyncio.get_running_loop().create_task(self._quiet_call(self.node.leader_addr, "raft.join", fwd))
        return {
            **self._my_info(),
            "leader": self.node.leader_addr,
            "known": [{"id": s.id, "name": s.name, "addr": s.addr} for s in self.known.values()],
        }

    async def handle_remove(self, body: Any) -> Any:
        """A server leaving asks the leader to take it out: done only when that server, called
        at its configured address, confirms it is this run and leaving (no one else's say-so)."""
        if not isinstance(body, dict) or not body.get("id") or not body.get("boot"):
            raise ValueError("raft.remove needs id and boot")
        sid, boot = str(body["id"]), str(body["boot"])
        addr = self.node.voters().get(sid)
        if addr is None:
            return True  # not a voter: nothing to do
        if not await self._confirms_leaving(sid, addr, boot):
            log.warning("raft: refused a remove the server itself did not confirm", extra={"id": sid})
            raise ValueError("raft.remove: the server did not confirm it is leaving")
        await self.remove(sid, boot=boot)
        return True

    async def _confirms_leaving(self, sid: str, addr: str, boot: str) -> bool:
        reply = await self._quiet_call(addr, "raft.leaving", {"id": sid})
        return (isinstance(reply, dict) and reply.get("id") == sid and reply.get("boot") == boot
                and reply.get("leaving") is True)

    async def handle_leaving(self, body: Any) -> Any:
        """The leader checking a remove request: who we are, this run, and whether we leave."""
        return {"id": self.me.id, "boot": self.boot, "leaving": self.leaving}

    async def _quiet_call(self, addr: str, method: str, body: Any) -> Any:
        with contextlib.suppress(TransportError, RemoteError):
            return await self.node.transport.call(addr, method, body, 2.0)
        return None

    async def remove(self, server_id: str, timeout: float = 10.0, boot: str = "") -> None:
        """Take `server_id` out of the voters (on the leader, or forwarded to it). `boot`: the
        leaving run's boot ID, when a server removes itself."""
        deadline = time.monotonic() + timeout
        if server_id != self.me.id:
            self.note_left(server_id, boot)  # so the reconcile loop does not add it straight back
        while True:
            voters = self.node.voters()
            if server_id not in voters:
                return
            if self.node.role is Role.LEADER:
                rest = {k: v for k, v in voters.items() if k != server_id}
                try:
                    await self.node.change_config(rest, timeout=max(0.1, deadline - time.monotonic()))
                    log.info("raft: removed server", extra={"id": server_id})
                    return
                except ConfigChangeInProgress:
                    pass
            elif self.node.leader_addr:
                try:
                    body = {"id": server_id, "boot": self.boot if server_id == self.me.id else boot}
                    await self.node.transport.call(
                        self.node.leader_addr, "raft.remove", body, max(0.1, deadline - time.monotonic())
                    )
                    return
                except (TransportError, RemoteError) as exc:
                    log.warning("raft: remove via leader failed", extra={"error": str(exc)})
            if time.monotonic() > deadline:
                raise NoLeader("No cluster leader")
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------------ loops
    async def _join_loop(self) -> None:
        """Contact the join addresses until we are a voter, and every other server once (to
        swap names and what each knows)."""
        contacted: set[str] = set()
        while True:
            if self.leaving:
                return
            voters = self.node.voters()
            targets = {a for a in voters.values()} | {s.addr for s in self.known.values()}
            targets -= contacted
            if self.me.id not in voters:
                targets |= {self.server_addr(a) for a in self.join_addrs}
            targets.discard(self.me.addr)
            for addr in sorted(targets):
                if self.leaving:
                    return
                reply = await self._quiet_call(addr, "raft.join", self._my_info())
                if isinstance(reply, dict) and reply.get("id"):
                    contacted.add(addr)
                    self.note_server(str(reply["id"]), str(reply.get("name", "")), str(reply.get("addr") or addr),
                                     bool(reply.get("has_state")), vouched=False)
                    for k in reply.get("known") or []:
                        if isinstance(k, dict) and k.get("id"):
                            self.note_server(str(k["id"]), str(k.get("name", "")), str(k.get("addr", "")),
                                             vouched=False)
            self._maybe_bootstrap()
            await asyncio.sleep(self.interval)

    def _maybe_bootstrap(self) -> None:
        if self.bootstrap_expect <= 0 or self.node.has_state():
            return
        others = list(self.known.values())
        if self.bootstrap_from_gossip_only or any(s.vouched for s in others):
            others = [s for s in others if s.vouched]  # what join calls claim does not count
        servers = [self.me, *others]
        if len(servers) < self.bootstrap_expect:
            return
        if any(s.has_state for s in others):
            return  # a cluster already exists: its leader will add us
        if self.me.id != min(s.id for s in servers):
            return  # the lowest ID bootstraps; we vote it in
        voters = {s.id: s.addr for s in servers}
        if self.node.bootstrap(voters):
            log.info("raft: bootstrapping the cluster", extra={"expect": self.bootstrap_expect, "voters": voters})
            if len(voters) == 1:
                self.node.campaign_now()  # the only voter: no one to wait for

    async def _reconcile_loop(self) -> None:
        """Leader: make the voters match the live servers we know of (one change at a time)."""
        while True:
            await asyncio.sleep(self.interval)
            if self.node.role is not Role.LEADER:
                continue
            try:
                await self._reconcile_once()
            except (NotLeader, NoLeader, ConfigChangeInProgress, TimeoutError) as exc:
                log.debug("raft: reconcile deferred", extra={"error": str(exc)})

    async def _reconcile_once(self) -> None:
        voters = self.node.voters()
        for sid in list(self.left):
            if sid in voters and sid != self.me.id:
                await self.node.change_config({k: v for k, v in voters.items() if k != sid})
                return
        if self.cleanup_dead_servers:
            dead = [sid for sid in self.failed if sid in voters and sid != self.me.id]
            # Like Consul's autopilot: only while fewer than half the voters are dead, so a
            # healthy majority remains to make the decision.
            if dead and len(dead) * 2 < len(voters):
                await self.node.change_config({k: v for k, v in voters.items() if k != dead[0]})
                log.info("raft: removed dead server", extra={"id": dead[0]})
                self.failed.discard(dead[0])
                return
        now = time.monotonic()
        for s in list(self.known.values()):
            if not s.vouched:
                continue  # known only from a join call: not proof that such a server exists
            if s.id in voters and voters[s.id] == s.addr:
                continue
            if now - s.seen > SEEN_FRESH or s.id in self.failed:
                continue
            stale = [k for k, a in voters.items() if a == s.addr and k != s.id]
            if stale:  # the server came back with a new ID at the same address: drop the old one
                await self.node.change_config({k: v for k, v in voters.items() if k != stale[0]})
                return
            await self.node.change_config({**voters, s.id: s.addr})
            log.info("raft: added server", extra={"id": s.id, "address": s.addr})
            return
