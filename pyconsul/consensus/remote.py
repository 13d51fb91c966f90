"""Client agents: every catalog/health/KV/session/... request goes to a server.

`Forwarder` sends an HTTP request to a known server's server port (which hands HTTP to the
server's API, see agent/server_port.py), sticking to the server that last answered and failing
over to the next when one is unreachable. `RemoteConsensus` is the client's `Consensus`: its writes
(the local state's anti-entropy) become catalog register/deregister requests to a server. A client
agent holds no Raft state, so its status and Raft operations answer as Consul's client agents do.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp

from pyconsul.consensus.errors import ForwardFailed, UnknownPeer
from pyconsul.consensus.protocol import LeaderStatus, StreamHandler
from pyconsul.fsm import commands as c
from pyconsul.state.errors import StateError

log = logging.getLogger("pyconsul.forward")

_IDEMPOTENT = ("GET", "HEAD")


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
        """(status, headers, body) from the first server that answers; ForwardFailed if none did."""
        servers = self.order()
        if not servers:
            raise ForwardFailed("No known Consul servers", delivered=False)
        last: Exception | None = None
        delivered = False
        for server in servers:
            url = f"{self._scheme}://{server}{path_qs}"
            try:
                tls: dict[str, Any] = {"ssl": False}
                if self.ssl_context is not None:
                    tls = {"ssl": self.ssl_context, "server_hostname": self._server_hostname}
                async with self._session_get().request(method, url, data=body, headers=headers, **tls) as resp:
                    data = await resp.read()
                    self._preferred = server
                    self.last_contact_ok = True
                    return resp.status, dict(resp.headers), data
            except aiohttp.ClientConnectorError as exc:  # never reached the server: safe to retry
                last = exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = exc
                delivered = True
                if method not in _IDEMPOTENT:
                    break
            log.warning("server unreachable, trying the next", extra={"server": server, "error": str(last)})
            if self._preferred == server:
                self._preferred = None
        self.last_contact_ok = False
        raise ForwardFailed(f"failed to reach any Consul server: {last}", delivered=delivered)

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

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder
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
        status, _, data = await self.forwarder.request(
            "PUT", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
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
