"""Client agents: every catalog/health/KV/session/... request goes to a server.

`Forwarder` relays an HTTP request to a known server's server port (which hands HTTP to the
server's API, see server_port.py), sticking to the server that last answered and failing over to
the next when one is unreachable. `RemoteConsensus` is the client's `Consensus`: its writes (the
local state's anti-entropy) become catalog register/deregister requests to a server.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from pyconsul.api.errors import HTTPError
from pyconsul.consensus import LeaderStatus, NoLeaderError
from pyconsul.fsm import commands as c
from pyconsul.state.errors import StateError

log = logging.getLogger("pyconsul.forward")

_PASS_HEADERS = ("X-Consul-Token", "Authorization", "Content-Type")
_IDEMPOTENT = ("GET", "HEAD")


class NoServers(Exception):
    pass


class Forwarder:
    def __init__(self, servers: Callable[[], list[str]], ssl_context: ssl.SSLContext | None = None) -> None:
        self._servers = servers
        self._ssl = ssl_context
        self._scheme = "https" if ssl_context is not None else "http"
        self._preferred: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self.last_contact_ok = False

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=0)
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
        servers = self.order()
        if not servers:
            raise NoServers("No known Consul servers")
        last: Exception | None = None
        for server in servers:
            url = f"{self._scheme}://{server}{path_qs}"
            try:
                async with self._session_get().request(method, url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    self._preferred = server
                    self.last_contact_ok = True
                    return resp.status, dict(resp.headers), data
            except aiohttp.ClientConnectorError as exc:  # never reached the server: safe to retry
                last = exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = exc
                if method not in _IDEMPOTENT:
                    break
            log.warning("server unreachable, trying the next", extra={"server": server, "error": str(last)})
            if self._preferred == server:
                self._preferred = None
        self.last_contact_ok = False
        raise NoServers(f"failed to reach any Consul server: {last}")

    async def forward(self, req: web.Request) -> web.Response:
        body = await req.read()
        headers = {h: req.headers[h] for h in _PASS_HEADERS if h in req.headers}
        try:
            status, rheaders, data = await self.request(req.method, req.path_qs, body or None, headers)
        except NoServers as exc:
            raise HTTPError(500, str(exc)) from None
        out = {k: v for k, v in rheaders.items() if k.startswith("X-Consul-")}
        out["Content-Type"] = rheaders.get("Content-Type", "application/json")
        return web.Response(status=status, body=data, headers=out)

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
        if isinstance(command, c.Register):
            path, body = "/v1/catalog/register", register_body(command)
        elif isinstance(command, c.Deregister):
            path = "/v1/catalog/deregister"
            body = {"Node": command.node, "ServiceID": command.service_id, "CheckID": command.check_id}
        else:
            raise StateError(f"{command.TYPE} is only applied on servers")
        try:
            status, _, data = await self.forwarder.request(
                "PUT", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        except NoServers as exc:
            raise NoLeaderError(str(exc)) from None
        text = data.decode(errors="replace")
        if status == 200:
            return True
        if "No cluster leader" in text:
            raise NoLeaderError()
        return StateError(text)

    async def barrier(self, consistent: bool) -> None:
        return None

    def leader_status(self) -> LeaderStatus:
        ok = self.forwarder.last_contact_ok
        return LeaderStatus(ok, self._leader, 0, False)

    def peers(self) -> list[str]:
        return []

    def stats(self) -> dict[str, str]:
        return {}

    async def refresh_leader(self) -> None:
        try:
            status, _, data = await self.forwarder.request("GET", "/v1/status/leader")
            if status == 200:
                self._leader = json.loads(data) or ""
        except (NoServers, ValueError):
            self._leader = ""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.forwarder.close()
