"""The agent's listeners: the HTTP API (fast path in front of aiohttp, HTTPS with the agent's
TLS context), the server port shared by forwarded HTTP and Raft, and DNS. Each takes the
`ssl.SSLContext` it should use where it opens a socket."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from pyconsul.agent.forward_gate import ForwardedRoutes
from pyconsul.agent.server_port import ServerPort
from pyconsul.api.app import build_app
from pyconsul.api.conn_limits import ConnLimiter, HTTPLimits
from pyconsul.api.fastpath import FastPathProtocol
from pyconsul.api.routes import ROUTES
from pyconsul.api.translate_wan import translate, translate_body
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns.mirror import Fetch
from pyconsul.dns.query_forward import QueryForwarding
from pyconsul.dns.remote import RemoteDatacenters, with_dc
from pyconsul.dns.server import DNSServer, serve_other_datacenters, start_client_dns_server, start_dns_server
from pyconsul.query.remote import execute_with_failover, health_over
from pyconsul.query.runner import QueryRunner
from pyconsul.tls.auto_encrypt import SIGN_PATH
from pyconsul.tls.context import signs_for_clients

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent


class _ClientErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's protocol logs a request it could not parse, or a client that went away, with
    `exception()` (ERROR and a stack). Those are the client's doing — answered 400 or moot — so,
    as Go's server does, they are not errors of the agent: debug lines without the stack."""

    def exception(self, msg: object, *args: object, exc_info: object = True, **kwargs: object) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        text = str(msg) % args if args else str(msg)
        self.debug("%s: %s", text, f"{type(exc).__name__}: {exc}" if exc is not None else "")


_AIOHTTP_LOG = _ClientErrorLog(logging.getLogger("pyconsul.http"), {})


async def start_http(agent: Agent) -> web.AppRunner:
    cfg = agent.config
    app = build_app(agent)
    limits = http_limits(agent)
    # Parked blocking queries must not hold up shutdown; aiohttp's keep-alive timer is the idle
    # timeout once a connection has left the fast path.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5,
                           keepalive_timeout=limits.idle_timeout, logger=_AIOHTTP_LOG)
    await runner.setup()
    # One count per client address across the HTTP and HTTPS listeners, as in Consul.
    limiter = ConnLimiter(cfg.limits.http_max_conns_per_client)
    if cfg.ports.http >= 0:
        for host in cfg.addr_for("http").split():
            await listen(agent, app, runner, host, cfg.ports.http, None, limiter)
    if cfg.ports.https > 0 and agent.http_ssl is not None:
        for host in cfg.addr_for("https").split():
            await listen(agent, app, runner, host, cfg.ports.https, agent.http_ssl, limiter)
    await start_server_port(agent, app, runner)
    return runner


def http_limits(agent: Agent) -> HTTPLimits:
    hc = agent.config.http_config
    return HTTPLimits(read_header_timeout=hc.read_header_timeout, idle_timeout=hc.idle_timeout)


async def listen(
    agent: Agent, app: web.Application, runner: web.AppRunner, host: str, port: int,
    ssl_ctx: ssl.SSLContext | None, limiter: ConnLimiter | None = None,
) -> None:
    """Serve the API on host:port: connections start on the fast path for hot cached reads
    and are handed to aiohttp for everything else."""
    ctx = app["ctx"]
    slow = runner.server
    assert slow is not None
    limits = http_limits(agent)
    loop = asyncio.get_running_loop()
    extra: dict[str, Any] = {}
    if ssl_ctx is not None:
        extra["ssl_handshake_timeout"] = agent.config.limits.https_handshake_timeout
    server = await loop.create_server(lambda: FastPathProtocol(ctx, slow, limits, limiter), host, port,
                                      ssl=ssl_ctx, reuse_address=True, **extra)
    agent._servers.append(server)


async def start_server_port(agent: Agent, app: web.Application, runner: web.AppRunner) -> None:
    """Servers accept forwarded HTTP (from client agents) and Raft on the server port."""
    cfg = agent.config
    if not cfg.server or cfg.dev and cfg.ports.server < 0:
        return
    slow = runner.server
    assert slow is not None
    rpc = cfg.tls_settings.internal_rpc
    port = ServerPort(cfg.bind_addr, cfg.ports.server, agent.rpc_tls.server,
                      require_tls=agent.rpc_tls.server is not None and rpc.verify_incoming,
                      server_name=agent.rpc_tls.server_hostname if rpc.verify_server_hostname else "",
                      handshake_timeout=cfg.limits.rpc_handshake_timeout,
                      max_conns_per_client=cfg.limits.rpc_max_conns_per_client,
                      header_timeout=cfg.http_config.read_header_timeout)
    # Forwarded requests go straight to aiohttp (the gate watches every request on the
    # connection; the fast path would hand the connection on past it).
    port.http = slow
    port.forwarded_routes = forwarded_routes()
    if signs_for_clients(cfg):  # a client without a certificate yet may ask for one, nothing else
        port.certless_routes = ForwardedRoutes([("POST", SIGN_PATH)])
    port.stream_handler = agent.consensus.stream_handler  # Raft's connections; None on -dev
    await port.start()
    agent.server_port = port


def forwarded_routes() -> ForwardedRoutes:
    return ForwardedRoutes((method, path) for method, path, _ in ROUTES)


async def start_dns(agent: Agent) -> Any:
    if agent.config.ports.dns < 0:
        return None
    if agent.forwarder is not None:  # a client answers from a mirror of the servers' catalog
        server = await start_client_dns_server(agent.config, agent.forwarder.request, node_name=agent.node_name)
    else:
        store = agent.store
        queries = QueryRunner(store.queries, store.catalog, store.coordinates, agent.node_name,
                              agent.config.datacenter)
        server = await start_dns_server(agent.config, store.catalog, queries, acl=store.acl,
                                        acl_token=agent.acl_tokens.dns_token)
    if server.port >= 0:
        await serve_other_datacenters(server, _remote_datacenters(agent))
        server.query_forwarding = _query_forwarding(agent, server)
    return server


def _query_forwarding(agent: Agent, server: DNSServer) -> QueryForwarding:
    """`<q>.query.<dc>` and query failover for DNS: a client agent asks its servers' execute
    endpoint; a server runs the query itself and asks other datacenters over the WAN."""
    cfg = agent.config
    forwarder = agent.forwarder
    runner = server.handler.queries if isinstance(server.handler.queries, QueryRunner) else None
    rng = random.Random()

    def execute_path(name: str, dc: str) -> str:
        return f"/v1/query/{quote(name, safe='')}/execute" + ("" if dc == cfg.datacenter else f"?dc={quote(dc, safe='')}")

    async def execute(name: str, dc: str) -> dict[str, Any] | None:
        tokens = agent.acl_tokens.values  # DNS reads as the dns token, else the default one
        token = tokens.dns or tokens.default
        headers = {"X-Consul-Token": token} if token else {}
        if forwarder is not None:
            status, _, body = await forwarder.request("GET", execute_path(name, dc), None, headers)
        elif dc != cfg.datacenter:
            status, _, body = await agent.forward_to_dc(dc, "GET", execute_path(name, dc), None, headers)
        else:
            assert runner is not None
            answer = await execute_with_failover(runner, name, rng, agent.datacenters(),
                                                 health_over(agent.forward_to_dc, token))
            return _wan_translated(cfg, answer)
        return _wan_translated(cfg, json.loads(body)) if status == 200 else None

    return QueryForwarding(cfg, runner, execute, server.handler.may_answer)


def _wan_translated(cfg: RuntimeConfig, answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """A query answer from another datacenter at its WAN addresses, with translate_wan_addrs."""
    if answer is None or not cfg.translate_wan_addrs:
        return answer
    result: dict[str, Any] = translate("/v1/query/q/execute", answer, cfg.datacenter, answer.get("Datacenter", ""))
    return result


def _remote_datacenters(agent: Agent) -> RemoteDatacenters:
    """Other datacenters' DNS names, read through the servers (which forward over the WAN);
    with translate_wan_addrs the mirrors hold their nodes' WAN addresses."""
    forwarder = agent.forwarder
    cfg = agent.config

    def fetch_for(dc: str) -> Fetch:
        async def fetch(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
            if forwarder is not None:
                status, headers, body = await forwarder.request(method, with_dc(path, dc))
            else:
                status, headers, body = await agent.forward_to_dc(dc, method, with_dc(path, dc), None, {})
            if cfg.translate_wan_addrs and status == 200:
                body = translate_body(path.split("?", 1)[0], body, cfg.datacenter, dc)
            return status, headers, body

        return fetch

    async def list_datacenters() -> list[str]:
        if forwarder is None:
            return agent.datacenters()
        status, _, body = await forwarder.request("GET", "/v1/catalog/datacenters")
        return list(json.loads(body)) if status == 200 else []

    return RemoteDatacenters(agent.config, fetch_for, list_datacenters)
