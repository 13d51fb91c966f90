"""TLS contexts in a running agent: built from the config plus what auto_encrypt brought, and
swapped into the listeners and dialers without a restart (reload uses the same swap).

- A server with `auto_encrypt.allow_tls` signs client certificates (`ServerSide` is what the
  sign endpoint asks for) and trusts the signer's roots for incoming TLS: when they change (the
  leader made the built-in CA) its server-port and HTTPS contexts are rebuilt with them.
- A client with `auto_encrypt.tls` gets its certificate at start: without certificate files of
  its own it waits for it before its listeners open (the HTTPS listener serves it); with files
  of its own those stay in use (Consul: a configured certificate wins) and the request runs in
  the background, so a server that does not sign (allow_tls off) costs only a log line.
  Either way the certificate is renewed before it expires.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pyconsul.agent import cluster
from pyconsul.state import watch
from pyconsul.tls.auto_encrypt import AutoEncryptClient, Signed
from pyconsul.tls.context import (
    AutoTLS,
    ListenerSwitch,
    RPCContexts,
    TLSConfigError,
    https_server_context,
    rpc_contexts,
)
from pyconsul.tls.signer import AgentCertSigner, signer_for

if TYPE_CHECKING:
    from pyconsul.agent.agent import Agent
    from pyconsul.config.runtime import RuntimeConfig

log = logging.getLogger("pyconsul.tls")


class ServerSide:
    """A server's part in auto_encrypt (pyconsul.api.auto_encrypt.AutoEncryptServer)."""

    def __init__(self, agent: Agent, signer: AgentCertSigner | None) -> None:
        self._agent = agent
        self._signer = signer

    @property
    def signer(self) -> AgentCertSigner | None:
        return self._signer

    def server_port_number(self) -> int:
        port = self._agent.server_port
        return port.port if port is not None else 0


def server_side(agent: Agent) -> ServerSide | None:
    cfg = agent.config
    if not cfg.server:
        return None
    connect_ca = agent.store.connect_ca if cfg.connect.enabled else None
    signer = signer_for(cfg.connect.ca_config, agent.store.agent_ca, connect_ca) if cfg.auto_encrypt.allow_tls else None
    return ServerSide(agent, signer)


def swap_contexts(agent: Agent, https: ssl.SSLContext | None, rpc: RPCContexts) -> None:
    """New handshakes use the new contexts; open connections keep theirs. Only listeners and
    dialers that run with TLS take part (reload cannot turn TLS on)."""
    if https is not None:
        if agent.https_switch is not None:
            agent.https_switch.swap(https)
        elif not agent._servers:  # HTTPS not listening yet: it starts with this one
            agent.http_ssl = https
            agent.https_switch = ListenerSwitch(https)
    agent.rpc_tls.auto = rpc.auto
    if agent.rpc_tls.server is not None and rpc.server is not None:
        agent.rpc_tls.server = rpc.server
        if agent.server_port is not None:
            agent.server_port.ssl_context = rpc.server
    if agent.rpc_tls.client is not None and rpc.client is not None:
        agent.rpc_tls.client = rpc.client
        transport = getattr(agent.consensus, "transport", None)
        if transport is not None and getattr(transport, "client_ssl", None) is not None:
            transport.client_ssl = rpc.client
        if agent.forwarder is not None:
            agent.forwarder.ssl_context = rpc.client


def build_contexts(cfg: RuntimeConfig, auto: AutoTLS | None, with_https: bool) -> tuple[ssl.SSLContext | None,
                                                                                      RPCContexts]:
    https = https_server_context(cfg, auto) if with_https else None
    return https, rpc_contexts(cfg, auto)


def apply_auto(agent: Agent, auto: AutoTLS) -> None:
    cfg = agent.config
    with_https = cfg.ports.https > 0 and (cfg.tls_settings.https.has_cert or auto.has_cert)
    https, rpc = build_contexts(cfg, auto, with_https)
    swap_contexts(agent, https, rpc)


async def follow_signing_roots(agent: Agent, signer: AgentCertSigner) -> None:
    """On a server: trust the roots that sign client certificates, now and whenever they change."""
    loop = asyncio.get_running_loop()
    applied: tuple[str, ...] = ()  # the contexts the agent started with trust no extra root
    while True:
        changed = asyncio.Event()
        unsubscribe = agent.store.watches.subscribe(
            [watch.table(t) for t in signer.watch_tables], lambda changed=changed: loop.call_soon_threadsafe(changed.set))
        roots = signer.roots()
        if roots != applied:
            try:
                apply_auto(agent, AutoTLS(ca_pems=roots))
                applied = roots
                if roots:
                    log.info("trusting the auto_encrypt CA for client certificates")
            except TLSConfigError as exc:
                log.error("auto_encrypt CA not usable", extra={"error": str(exc)})
        try:
            await changed.wait()
        finally:
            unsubscribe()


def auto_encrypt_client(agent: Agent) -> AutoEncryptClient:
    cfg = agent.config
    ae = cfg.auto_encrypt
    tokens = cfg.acl.tokens
    return AutoEncryptClient(
        cfg.datacenter, agent.node_name, tokens.agent or tokens.default, lambda: cluster.known_servers(agent),
        lambda: agent.rpc_tls.client, agent.rpc_tls.server_hostname, tuple(ae.dns_san), tuple(ae.ip_san))


def _use(agent: Agent, signed: Signed) -> None:
    try:
        apply_auto(agent, signed.tls)
    except TLSConfigError as exc:
        log.error("auto_encrypt certificate not usable", extra={"error": str(exc)})
        return
    log.info("using the auto_encrypt certificate", extra={"valid_before": signed.valid_before.isoformat()})


async def _unless_stopped(agent: Agent, waiting: Coroutine[Any, Any, Signed]) -> Signed:
    """`waiting`, unless SIGINT or SIGTERM comes first (the agent is not serving yet, so a stop
    ends the start); a SIGHUP meanwhile is kept for when it runs."""
    signals: asyncio.Queue[int] | None = getattr(agent, "_signals", None)
    task = asyncio.ensure_future(waiting)
    if signals is None:
        return await task
    held: list[int] = []
    try:
        while True:
            got = asyncio.ensure_future(signals.get())
            done, _ = await asyncio.wait({task, got}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                got.cancel()
                return task.result()
            sig = got.result()
            if sig == signal.SIGHUP:
                held.append(sig)
                continue
            task.cancel()
            raise OSError("stopped while waiting for the auto_encrypt certificate")
    finally:
        for sig in held:
            signals.put_nowait(sig)


async def start_auto_encrypt(agent: Agent) -> None:
    """On a client with auto_encrypt.tls, before its listeners open (see the module's rules)."""
    client = auto_encrypt_client(agent)
    cfg = agent.config
    own_files = cfg.tls_settings.internal_rpc.has_cert

    async def run(first: Signed | None) -> None:
        signed = first or await client.sign()
        if first is None:
            _use(agent, signed)
        await client.keep_renewed(signed, lambda s: _use(agent, s))

    if own_files:
        agent.track(asyncio.ensure_future(run(None)))
        return
    log.info("requesting a certificate from the servers (auto_encrypt)")
    signed = await _unless_stopped(agent, client.sign())
    _use(agent, signed)
    agent.track(asyncio.ensure_future(run(signed)))
