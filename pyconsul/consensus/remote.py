"""Client agents: every catalog/health/KV/session/... request goes to a server.

`Forwarder` sends an HTTP request to a known server's server port (which hands HTTP to the
server's API, see agent/server_port.py), sticking to the server that last answered and failing
over to the next when one is unreachable. `RemoteConsensus` is the client's `Consensus`: its writes
(the local state's anti-entropy) become catalog register/deregister requests to a server. A client
agent holds no Raft state, so its status and Raft operations answer as Consul's client agents do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from pyconsul.consensus.errors import ForwardFailed, UnknownPeer
from pyconsul.consensus.held_requests import (
    STATUS_TIMEOUT,
    WATCH_AFTER,
    WATCH_INTERVAL,
    is_read,
    leader_elsewhere,
    needs_leader,
)
from pyconsul.consensus.protocol import LeaderStatus, StreamHandler
from pyconsul.fsm import commands as c
from pyconsul.state.errors import StateError

log = logging.getLogger("pyconsul.forward")


class _CutOff(Exception):
    """The server holding a request does not know the leader the others elected."""

    def __init__(self, leader: str) -> None:
        super().__init__(leader)
        self.leader = leader


class Forwarder:
    """The `ServerRelay` of a client agent: one HTTP request to whichever server answers."""

    def __init__(self, servers: Callable[[], list[str]], ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str = "") -> None:
        """`ssl_context` (verify_outgoing) is read at each request, so a reload may swap it;
        `server_hostname` is the SNI and the name checked under verify_server_hostname."""
        self._servers = servers
        self.ssl_context = ssl_context
        self._server_hostname = server_hostname or None
        self._scheme = "https" if ssl_context is not None else "http"
        self._preferred: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self.last_contact_ok = False

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=3),
                auto_decompress=False,
            )
        return self._session

    def order(self) -> list[str]:
        servers = list(dict.fromkeys(self._servers()))
        random.shuffle(servers)
        if self._preferred in servers:
            servers.remove(self._preferred)  # type: ignore[arg-type]
            servers.insert(0, self._preferred)  # type: ignore[arg-type]
        return servers

    async def request(
        self, method: str, path_qs: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) from the first server that answers; ForwardFailed if none did.

        A request a server holds while it has no leader (`held_requests.needs_leader`) is
        watched: if the other servers elect a leader the server holding it does not know of, a
        read goes to that leader at once and a write fails at once (see held_requests)."""
        servers = self.order()
        if not servers:
            raise ForwardFailed("No known Consul servers", delivered=False)
        watch = needs_leader(method, path_qs)
        read = is_read(method)
        last: Exception | None = None
        delivered = False
        tried: set[str] = set()
        while servers:
            server = servers.pop(0)
            tried.add(server)
            try:
                send = self._send(server, method, path_qs, body, headers)
                status, rheaders, data = await (self._unless_cut_off(server, send, read) if watch else send)
                self._preferred = server
                self.last_contact_ok = True
                return status, rheaders, data
            except _CutOff as cut:
                self.last_contact_ok = True
                log.warning("server holding a request lost the leader", extra={
                    "server": server, "leader": cut.leader, "method": method})
                if not read:
                    raise ForwardFailed(
                        f"rpc error making call: server {server} lost the leader while holding the request "
                        f"(the cluster's leader is {cut.leader}); it may or may not have been applied") from None
                self._preferred = cut.leader
                servers = [cut.leader, *(x for x in servers if x != cut.leader)]
                if cut.leader in tried:
                    servers = servers[1:]
                continue
            except aiohttp.ClientConnectorError as exc:  # never reached the server: safe to retry
                last = exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = exc
                delivered = True
                if not read:
                    break
            log.warning("server unreachable, trying the next", extra={"server": server, "error": str(last)})
            if self._preferred == server:
                self._preferred = None
        self.last_contact_ok = False
        raise ForwardFailed(f"failed to reach any Consul server: {last}", delivered=delivered)

    def _tls(self) -> dict[str, Any]:
        if self.ssl_context is None:
            return {"ssl": False}
        return {"ssl": self.ssl_context, "server_hostname": self._server_hostname}

    async def _send(
        self, server: str, method: str, path_qs: str, body: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, dict[str, str], bytes]:
        url = f"{self._scheme}://{server}{path_qs}"
        async with self._session_get().request(method, url, data=body, headers=headers, **self._tls()) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def _unless_cut_off(
        self, server: str, send: Coroutine[Any, Any, tuple[int, dict[str, str], bytes]], read: bool
    ) -> tuple[int, dict[str, str], bytes]:
        """`send`'s answer, unless the cluster elects a leader `server` does not know of first
        (then _CutOff, and `send` is abandoned)."""
        answer = asyncio.ensure_future(send)
        try:
            await asyncio.wait({answer}, timeout=WATCH_AFTER)
            while not answer.done():
                probe = asyncio.ensure_future(self._leaders_named())
                done, _ = await asyncio.wait({answer, probe}, return_when=asyncio.FIRST_COMPLETED)
                if answer in done:
                    probe.cancel()
                    break
                lead = leader_elsewhere(server, probe.result(), read)
                if lead:
                    raise _CutOff(lead)
                await asyncio.wait({answer}, timeout=WATCH_INTERVAL)
            return answer.result()
        finally:
            if not answer.done():
                answer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await answer

    async def _leaders_named(self) -> dict[str, str | None]:
        """Whom each known server names as leader ("" none; None: no answer in time)."""
        servers = list(dict.fromkeys(self._servers()))

        async def ask(server: str) -> str | None:
            try:
                async with asyncio.timeout(STATUS_TIMEOUT):
                    status, _, data = await self._send(server, "GET", "/v1/status/leader", None, None)
                got = json.loads(data) if status == 200 else None
                return got if isinstance(got, str) else None
            except (TimeoutError, aiohttp.ClientError, ValueError):
                return None

        answers = await asyncio.gather(*(ask(x) for x in servers))
        return dict(zip(servers, answers, strict=True))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def register_body(cmd: c.Register) -> dict[str, Any]:
    node = cmd.node
    body: dict[str, Any] = {
        "ID": node.get("ID", ""), "Node": node["Node"], "Address": node.get("Address", ""),
        "Datacenter": node.get("Datacenter", ""), "TaggedAddresses": node.get("TaggedAddresses") or {},
        "NodeMeta": node.get("Meta") or {}, "SkipNodeUpdate": cmd.skip_node_update,
    }
    if cmd.service is not None:
        body["Service"] = cmd.service
    if cmd.checks:
        body["Checks"] = cmd.checks
    return body


class RemoteConsensus:
    """A client agent's write path: catalog writes are sent to a server."""

    def __init__(self, forwarder: Forwarder, token: Callable[[], str] = lambda: "") -> None:
        """`token` gives the agent's own token (acl.tokens.agent, else default) at each write."""
        self.forwarder = forwarder
        self.token = token
        self._leader = ""

    async def apply(self, command: c.Command) -> Any:
        """True once a server applied it; a rejected write returns the StateError (as the state
        machine does); a server-side failure (500, e.g. no leader) raises ForwardFailed."""
        if isinstance(command, c.Register):
            path, body = "/v1/catalog/register", register_body(command)
        elif isinstance(command, c.Deregister):
            path = "/v1/catalog/deregister"
            body = {"Node": command.node, "ServiceID": command.service_id, "CheckID": command.check_id}
        else:
            raise StateError(f"{command.TYPE} is only applied on servers")
        headers = {"Content-Type": "application/json"}
        token = self.token()
        if token:
            headers["X-Consul-Token"] = token
        status, _, data = await self.forwarder.request("PUT", path, json.dumps(body).encode(), headers)
        text = data.decode(errors="replace")
        if status == 200:
            return True
        if status >= 500:  # the server's own failure, e.g. "No cluster leader": its text as it is
            raise ForwardFailed(text)
        return StateError(text)

    async def barrier(self, consistent: bool) -> None:
        return None  # reads are answered by the servers, which run their own barrier

    def leader_status(self) -> LeaderStatus:
        ok = self.forwarder.last_contact_ok
        return LeaderStatus(ok, self._leader, 0, False)

    def peers(self) -> list[str]:
        return []

    def configuration(self) -> list[dict[str, Any]]:
        return []

    def replication(self) -> dict[str, tuple[float, int]]:
        return {}

    async def remove_peer(self, address: str = "", node_id: str = "") -> None:
        what = f"id {node_id!r}" if node_id else f"address {address!r}"
        raise UnknownPeer(f"{what} was not found in the Raft configuration")

    async def transfer_leadership(self, timeout: float = 5.0) -> bool:
        return False

    async def drain(self, timeout: float) -> None:
        return None  # the servers hold requests, not a client agent

    async def leave(self) -> None:
        return None  # not a voter: leaving gossip is all there is

    async def restore_snapshot(self, data: bytes) -> None:
        """The servers hold the state: the image goes to one of them."""
        status, _, body = await self.forwarder.request("PUT", "/v1/snapshot", data)
        if status != 200:
            raise ValueError(body.decode(errors="replace").removeprefix("Snapshot restore failed: "))

    def stats(self) -> dict[str, str]:
        return {}

    @property
    def stream_handler(self) -> StreamHandler | None:
        return None

    def note_server(self, node_id: str, name: str, addr: str) -> None:
        return None

    def note_server_failed(self, node_id: str) -> None:
        return None

    def note_server_left(self, node_id: str) -> None:
        return None

    def use_gossip_discovery(self) -> None:
        return None

    async def refresh_leader(self) -> None:
        try:
            status, _, data = await self.forwarder.request("GET", "/v1/status/leader")
            if status == 200:
                self._leader = json.loads(data) or ""
        except (ForwardFailed, ValueError):
            self._leader = ""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.forwarder.close()
