"""Agent: builds the store, state machine and consensus, the local state with its checks, and the
HTTP/DNS listeners; runs anti-entropy; handles reload, leave and shutdown.

Lifecycle: `start()` (consensus → self-registration → local state → listeners), `run_until_signal()`,
`shutdown()`. Listeners take an optional `ssl.SSLContext` (the TLS seam).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from pyconsul import telemetry
from pyconsul.acl import leader_init as acl_leader_init
from pyconsul.acl import replication
from pyconsul.acl.errors import ACL_NOT_FOUND, PERMISSION_DENIED
from pyconsul.acl.reaper import TokenReaper
from pyconsul.acl.settings import ACLSettings, acl_settings, written_paths
from pyconsul.acl.tokens import AgentTokens
from pyconsul.agent import cluster, info, listeners, tls_wiring, wan
from pyconsul.agent.anti_entropy import next_sync_delay
from pyconsul.agent.coordinates import AgentCoordinateHost
from pyconsul.agent.definitions import DefinitionError, check_definitions_allowed, load_definitions
from pyconsul.agent.local_state import LocalState
from pyconsul.agent.node_id import settle_node_id
from pyconsul.agent.server_port import ServerPort
from pyconsul.agent.session_timers import SessionTimers
from pyconsul.checks.scheduler import CheckScheduler
from pyconsul.clock import SYSTEM_CLOCK
from pyconsul.config.loader import reload_config
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.connect import ca_leader
from pyconsul.consensus.errors import ForwardFailed
from pyconsul.consensus.local import LocalConsensus
from pyconsul.consensus.protocol import Consensus
from pyconsul.consensus.raft import RaftConsensus
from pyconsul.consensus.remote import Forwarder, RemoteConsensus
from pyconsul.coordinate.updater import run_updates
from pyconsul.entries import replication as entry_replication
from pyconsul.fork_encode import encode_off_loop
from pyconsul.fsm import commands as c
from pyconsul.fsm.machine import StateMachine
from pyconsul.gossip.keyring_query import NOT_ENABLED, NodeAnswer, PoolResult, tally
from pyconsul.logs import BROADCASTER
from pyconsul.logs import set_level as set_log_level
from pyconsul.sdnotify import notify
from pyconsul.state.errors import StateError
from pyconsul.state.store import StateStore
from pyconsul.telemetry.names import ENDPOINT_TIMER
from pyconsul.telemetry.setup import configure as configure_telemetry
from pyconsul.telemetry.setup import run_gauges
from pyconsul.tls.context import (
    ListenerSwitch,
    RPCContexts,
    TLSConfigError,
)

log = logging.getLogger("pyconsul.agent")



class Agent:
    """The agent; it is the API's `pyconsul.api.port.AgentPort`."""

    def __init__(
        self, config: RuntimeConfig, http_ssl: ssl.SSLContext | None = None, rpc_tls: RPCContexts | None = None
    ) -> None:
        settle_node_id(config)
        self.config = config
        self.rpc_tls = rpc_tls or RPCContexts()
        self.node_name = config.node_name
        self.acl_tokens = AgentTokens(self.acl_settings, "" if config.dev else config.data_dir)
        self.store = StateStore(SYSTEM_CLOCK)
        self.machine = StateMachine(self.store)
        self.membership: Any = None
        self.forwarder: Forwarder | None = None
        self.server_port: ServerPort | None = None
        self.wan: wan.WanFederation | None = None
        self.acl_replicator: replication.Replicator | None = None
        self._acl_change_hooks: list[Callable[[], None]] = []
        self.consensus: Consensus = self._make_consensus()
        self.local = LocalState(
            self.node_name, self._sync_write, self.node_row, "" if config.dev else config.data_dir,
            check_update_interval=config.check_update_interval,
        )
        self.session_timers = SessionTimers(self._expire_session)
        self.http_ssl = http_ssl
        self.https_switch = ListenerSwitch(http_ssl) if http_ssl is not None else None
        self.auto_encrypt_server = tls_wiring.server_side(self)  # api/auto_encrypt.py reads it
        self.scheduler: Any = None
        self.dns: Any = None
        self._runners: list[web.AppRunner] = []
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._local_change = asyncio.Event()
        self._stop = asyncio.Event()
        self._leaving = False
        self._sync_now = asyncio.Event()
        self._rng = random.Random()
        self._sync_task: asyncio.Task[None] | None = None
        self.exit_code = 0

    # ------------------------------------------------------------------ wiring
    def _make_consensus(self) -> Consensus:
        cfg = self.config
        addr = f"{cfg.advertise()}:{cfg.ports.server}"
        if not cfg.server:
            self.forwarder = Forwarder(lambda: cluster.known_servers(self), self.rpc_tls.client,
                                       server_hostname=self.rpc_tls.server_hostname)
            return RemoteConsensus(self.forwarder, token=lambda: self.acl_tokens.agent_token())
        if not cfg.dev:
            # Gossip reports the servers: only those count towards bootstrapping.
            return RaftConsensus(cfg, self.machine, client_ssl=self.rpc_tls.client,
                                 server_hostname=self.rpc_tls.server_hostname, gossip=True)
        return LocalConsensus(self.machine, addr, node_id=cfg.node_id, node_name=self.node_name)

    @property
    def acl_settings(self) -> ACLSettings:
        return acl_settings(self.config, written_paths(self.config))[0]

    @property
    def server_relay(self) -> Forwarder | None:
        return self.forwarder

    def node_row(self) -> dict[str, Any]:
        cfg = self.config
        addr = cfg.advertise()
        wan_addr = cfg.advertise_addr_wan or addr
        return {
            "ID": cfg.node_id,
            "Node": self.node_name,
            "Address": addr,
            "Datacenter": cfg.datacenter,
            "TaggedAddresses": {"lan": addr, "lan_ipv4": addr, "wan": wan_addr, "wan_ipv4": wan_addr},
            "Meta": {"consul-network-segment": "", **cfg.node_meta},
        }

    async def write(self, command: c.Command) -> Any:
        start = telemetry.now()
        try:
            return await self.consensus.apply(command)
        finally:
            timer = ENDPOINT_TIMER.get(command.TYPE)
            if timer is not None:
                telemetry.measure_since(timer, start)

    async def _sync_write(self, command: c.Command) -> Any:
        """Anti-entropy's and check updates' writes: one the servers' ACLs refuse is logged (the
        agent token lacks a right); the next sync retries it."""
        result = await self.write(command)
        if isinstance(result, StateError) and (ACL_NOT_FOUND in str(result) or PERMISSION_DENIED in str(result)):
            log.warning("catalog sync refused: check acl.tokens.agent", extra={"error": str(result)})
        return result

    async def _expire_session(self, sid: str) -> None:
        await self.write(c.SessionDestroy(session_id=sid))

    # ------------------------------------------------------------------ lifecycle
    def track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def start(self) -> None:
        cfg = self.config
        check_definitions_allowed(cfg)  # refuse to start, as Consul does, rather than run a bad check
        why = replication.settings_error(cfg.server, self.acl_settings, cfg.datacenter, cfg.primary_datacenter)
        if why:
            raise OSError(why)
        sinks = configure_telemetry(cfg.telemetry)
        await self.consensus.start()
        self._start_checks()
        # Local services (persisted and from config files) are known before the API answers.
        self.local.load()
        await self._load_config_definitions()
        if self.consensus.leader_status().is_leader:  # a single server can write at once
            await self._register_self()
            self.local.syncing = True
            await self.anti_entropy()
        signer = self.auto_encrypt_server.signer if self.auto_encrypt_server is not None else None
        if signer is not None:
            self.track(asyncio.ensure_future(tls_wiring.follow_signing_roots(self, signer)))
        if cfg.auto_encrypt.tls and not cfg.server:
            await tls_wiring.start_auto_encrypt(self)
        await self._start_http()
        await self._start_dns()
        self.membership = await cluster.start_membership(self)
        if self.membership is not None:
            self.consensus.use_gossip_discovery()
        if cfg.start_join:
            try:
                await self.join(list(cfg.start_join))
            except RuntimeError as exc:
                raise OSError(str(exc)) from None
        await self._start_wan()
        self._tasks.append(asyncio.ensure_future(run_gauges(self, time.time(), sinks)))
        if cfg.retry_join:
            self._tasks.append(asyncio.ensure_future(cluster.join_loop(self)))
        if cfg.server and self.acl_settings.enabled and replication.is_secondary(cfg.datacenter, cfg.primary_datacenter):
            self._start_acl_replication()
        if cfg.server and replication.is_secondary(cfg.datacenter, cfg.primary_datacenter):
            self._start_config_replication()
        if cfg.server:
            self._tasks.append(asyncio.ensure_future(cluster.reconcile_loop(self)))
            if self.acl_settings.enabled:  # expired tokens leave the table through Raft
                reaper = TokenReaper(self.store.acl, SYSTEM_CLOCK, lambda: self.consensus.leader_status().is_leader,
                                     self.write, asyncio.sleep)
                self._tasks.append(asyncio.ensure_future(reaper.run()))
                if cfg.primary_datacenter in ("", cfg.datacenter):  # secondaries get them by replication
                    self._tasks.append(asyncio.ensure_future(acl_leader_init.run(
                        self.store.acl, self.acl_settings.initial_management, SYSTEM_CLOCK,
                        lambda: self.consensus.leader_status().is_leader, self.write)))
            self._tasks.append(asyncio.ensure_future(ca_leader.run(  # the Connect CA
                self, replication_token=self.acl_settings.replication)))
        self._tasks.append(asyncio.ensure_future(run_updates(AgentCoordinateHost(self), SYSTEM_CLOCK)))
        self._sync_task = asyncio.ensure_future(self._when_leader())
        self._tasks.append(self._sync_task)
        log.info("agent started", extra={"node": self.node_name, "datacenter": cfg.datacenter,
                                         "server": cfg.server, "http": f"{cfg.addr_for('http')}:{cfg.ports.http}"})

    async def _start_wan(self) -> None:
        cfg = self.config
        self.wan = await wan.start_federation(self)
        if self.wan is None:
            return
        if self.server_port is not None:
            self.server_port.wan_forwarders = self.wan.forwarders
        if self.membership is not None:
            self._tasks.append(asyncio.ensure_future(wan.flood_join_loop(self.wan, self.membership)))
        if cfg.start_join_wan:
            try:
                await self.wan.join(list(cfg.start_join_wan))
            except RuntimeError as exc:
                raise OSError(str(exc)) from None
        if cfg.retry_join_wan:
            self._tasks.append(asyncio.ensure_future(
                wan.join_wan_loop(self.wan, list(cfg.retry_join_wan), cfg.retry_interval_wan, cfg.retry_max_wan)))

    def _start_acl_replication(self) -> None:
        """A secondary's servers copy the primary's policies, roles and global tokens."""
        cfg = self.config
        acl_store = self.store.acl

        async def fetch(method: str, path: str) -> tuple[int, bytes]:
            token = self.acl_settings.replication
            status, _, body = await self.forward_to_dc(cfg.primary_datacenter, method, path, None,
                                                       {"X-Consul-Token": token} if token else {})
            return status, body

        def local_rows(what: str) -> list[dict[str, Any]]:
            reader = {"policies": acl_store.list_policies, "roles": acl_store.list_roles,
                      "tokens": acl_store.list_tokens}[what]
            return reader(None)[1]

        self.acl_replicator = replication.Replicator(
            cfg.primary_datacenter, fetch, self.write, local_rows,
            lambda: self.consensus.leader_status().is_leader, self.acl_settings.enable_token_replication,
            on_change=lambda: [hook() for hook in self._acl_change_hooks])
        self._tasks.append(asyncio.ensure_future(self.acl_replicator.run()))

    def _start_config_replication(self) -> None:
        """A secondary's servers copy the primary's config entries (intentions among them)."""
        cfg = self.config

        async def fetch(method: str, path: str) -> tuple[int, int, bytes]:
            token = self.acl_settings.replication
            status, headers, body = await self.forward_to_dc(cfg.primary_datacenter, method, path, None,
                                                             {"X-Consul-Token": token} if token else {})
            index = headers.get("X-Consul-Index", "0")
            return status, int(index) if index.isdigit() else 0, body

        replicator = entry_replication.Replicator(
            cfg.primary_datacenter, fetch, self.write, lambda: self.store.config_entries.list(None)[1],
            lambda: self.consensus.leader_status().is_leader)
        self._tasks.append(asyncio.ensure_future(replicator.run()))

    async def forward_to_dc(self, dc: str, method: str, path_qs: str, body: bytes | None,
                            headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.wan is None:
            raise ForwardFailed(wan.NO_PATH, delivered=False)
        return await self.wan.forward(dc, method, path_qs, body, headers)

    def datacenters(self) -> list[str]:
        return self.wan.datacenters() if self.wan is not None else [self.config.datacenter]

    def on_acl_change(self, hook: Callable[[], None]) -> None:
        self._acl_change_hooks.append(hook)

    def acl_replication_status(self) -> dict[str, Any]:
        status = self.acl_replicator.status if self.acl_replicator is not None else replication.Status()
        return status.to_json()

    def datacenter_maps(self) -> list[dict[str, Any]] | None:
        return self.wan.router.datacenter_maps() if self.wan is not None else None

    async def _when_leader(self) -> None:
        """Once writes are accepted: register this node, load local services, keep them in sync."""
        while not self._stop.is_set():
            try:
                await self._register_self()
                break
            except Exception as exc:
                log.debug("waiting for a leader to register this node", extra={"error": str(exc)})
                await asyncio.sleep(0.5)
        self.local.syncing = True
        for sid, row in list(self.store.sessions.by_id.items()):
            self.session_timers.reset(sid, row["TTL"])
        while not self._stop.is_set():
            try:
                await self.anti_entropy()
            except Exception as exc:
                log.warning("anti-entropy sync failed", extra={"error": str(exc)})
            nodes = len(self.membership.members()) if self.membership is not None else 1
            try:
                await asyncio.wait_for(self._sync_now.wait(), next_sync_delay(nodes, self._rng))
            except TimeoutError:
                pass
            self._sync_now.clear()

    def trigger_sync(self) -> None:
        """Run a full anti-entropy sync now (a server (re)joined, or the servers lost our state)."""
        self._sync_now.set()

    async def _catalog_self_view(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """This node's services and checks as the catalog has them."""
        node = self.node_name
        if self.forwarder is not None:
            token = self.acl_tokens.agent_token()
            headers = {"X-Consul-Token": token} if token else None
            status, _, body = await self.forwarder.request("GET", f"/v1/catalog/node/{node}", headers=headers)
            data = json.loads(body) if status == 200 else None
            svcs = list((data or {}).get("Services", {}).values()) if data else []
            status, _, body = await self.forwarder.request("GET", f"/v1/health/node/{node}", headers=headers)
            chks = json.loads(body) if status == 200 else []
            return {s["ID"]: s for s in svcs}, {ch["CheckID"]: ch for ch in chks}
        _, svcs = self.store.catalog.node_services(None, node)
        _, chks = self.store.catalog.node_checks(None, node)
        return {s["ID"]: s for s in svcs}, {ch["CheckID"]: ch for ch in chks}

    async def _register_self(self) -> None:
        cfg = self.config
        checks = [{"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                   "Output": "Agent alive and reachable", "Type": ""}]
        service = None
        if cfg.server:
            service = {"ID": "consul", "Service": "consul", "Port": cfg.ports.server, "Tags": [],
                       "Meta": {"raft_version": "3", "serf_protocol_current": "2",
                                "serf_protocol_max": "5", "serf_protocol_min": "1", "version": info.CONSUL_COMPAT_VERSION}}
        await self.write(c.Register(node=self.node_row(), service=service, checks=checks))

    async def anti_entropy(self) -> int:
        svcs, chks = await self._catalog_self_view()
        if "serfHealth" not in chks:  # the servers lost our node (or never had it)
            await self._register_self()
            svcs, chks = await self._catalog_self_view()
        return await self.local.full_sync(svcs, chks)

    async def _load_config_definitions(self) -> None:
        await load_definitions(self)

    def _start_checks(self) -> None:
        self.scheduler = CheckScheduler.from_config(self, self.config, alias_source=self)
        self.local.on_check_added = self._schedule_check
        self.local.on_check_removed = self.scheduler.remove
        self._tasks.append(asyncio.ensure_future(self.scheduler.start()))

    def _schedule_check(self, chk: dict[str, Any]) -> None:
        if chk.get("Type") in ("maintenance", "") or self.scheduler is None:
            return
        try:
            # Checks from config files are "local" (enable_local_script_checks covers them).
            self.scheduler.add(chk, local=chk["CheckID"] in self.local.config_checks)
        except Exception as exc:
            log.warning("check not scheduled", extra={"check": chk.get("CheckID"), "error": str(exc)})

    # AliasSource protocol, for alias checks.
    def checks_of(self, node: str, service_id: str) -> list[dict[str, Any]] | None:
        if not node or node == self.node_name:
            if service_id and service_id not in self.local.services:
                return None
            return [dict(ch, Node=self.node_name) for ch in self.local.checks.values()
                    if ch.get("ServiceID", "") in ("", service_id)]
        checks = self.store.catalog.checks_by_node.get(node)
        if checks is None or (service_id and service_id not in self.store.catalog.services_by_node.get(node, {})):
            return None
        return [ch for ch in checks.values() if ch["ServiceID"] in ("", service_id)]

    # CheckNotifier protocol, called by the scheduler.
    def update_check(self, check_id: str, status: str, output: str) -> None:
        asyncio.ensure_future(self._update_check(check_id, status, output))

    async def _update_check(self, check_id: str, status: str, output: str) -> None:
        try:
            await self.local.update_check(check_id, status, output)
            self.notify_local_change()
            if self.scheduler is not None:
                self.scheduler.notify_state_changed()  # alias checks follow what they alias
        except Exception as exc:
            log.warning("check update not synced", extra={"check": check_id, "error": str(exc)})

    def critical_too_long(self, check_id: str) -> None:
        chk = self.local.checks.get(check_id)
        if chk and chk.get("ServiceID"):
            log.info("deregistering service: critical for too long",
                     extra={"service": chk["ServiceID"], "check": check_id})
            asyncio.ensure_future(self.local.remove_service(chk["ServiceID"]))

    async def ttl_update(self, check_id: str, status: str, output: str) -> bool:
        chk = self.local.checks.get(check_id)
        if chk is None:
            return False
        if self.scheduler is not None and chk.get("Type") == "ttl":
            try:
                self.scheduler.ttl_update(check_id, status, output)
            except KeyError:
                pass
        return await self.local.update_check(check_id, status, output)

    def notify_local_change(self) -> None:
        self._local_change.set()
        self._local_change = asyncio.Event()

    async def local_changed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._local_change.wait(), max(timeout, 0))
        except TimeoutError:
            pass

    async def _start_http(self) -> None:
        self._runners.append(await listeners.start_http(self))

    async def _start_dns(self) -> None:
        self.dns = await listeners.start_dns(self)

    async def shutdown(self) -> None:
        self._stop.set()
        self.session_timers.clear_all()
        for t in self._tasks:
            t.cancel()
        if self.scheduler is not None:
            try:
                await self.scheduler.stop()
            except Exception as exc:
                log.warning("check scheduler stop failed", extra={"error": str(exc)})
        if self.dns is not None:
            await self.dns.close()
        if self.membership is not None:
            try:
                await self.membership.stop()
            except Exception as exc:
                log.warning("membership stop failed", extra={"error": str(exc)})
        if self.wan is not None:
            try:
                await self.wan.stop()
            except Exception as exc:
                log.warning("WAN pool stop failed", extra={"error": str(exc)})
        if self.server_port is not None:
            await self.server_port.close()
        for srv in self._servers:
            srv.close()
        for r in self._runners:
            await r.cleanup()
        await self.consensus.stop()
        log.info("agent stopped", extra={"node": self.node_name})

    def install_signal_handlers(self) -> None:
        """Before start(): a signal that arrives while starting is handled once running."""
        loop = asyncio.get_running_loop()
        self._signals: asyncio.Queue[int] = asyncio.Queue()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._signals.put_nowait, sig)

    async def run_until_signal(self) -> int:
        if not hasattr(self, "_signals"):
            self.install_signal_handlers()
        received = self._signals
        stop_wait = asyncio.ensure_future(self._stop.wait())
        while True:
            get = asyncio.ensure_future(received.get())
            done, _ = await asyncio.wait({get, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if stop_wait in done:
                get.cancel()
                break
            sig = get.result()
            if sig == signal.SIGHUP:
                log.info("caught signal", extra={"signal": "hangup"})
                notify("RELOADING=1")
                try:
                    await self.reload()
                except Exception as exc:
                    log.error("reload failed", extra={"error": str(exc)})
                notify("READY=1")
                continue
            name = "interrupt" if sig == signal.SIGINT else "terminated"
            log.info("caught signal", extra={"signal": name})
            notify("STOPPING=1")
            cfg = self.config
            leave_on_term = cfg.leave_on_terminate if cfg.leave_on_terminate is not None else not cfg.server
            skip_on_int = cfg.skip_leave_on_interrupt if cfg.skip_leave_on_interrupt is not None else cfg.server
            graceful = (sig == signal.SIGINT and not skip_on_int) or (sig == signal.SIGTERM and leave_on_term)
            if graceful:
                log.info("gracefully shutting down agent")
                await self.leave(shutdown=False)
                self.exit_code = 0
            else:
                log.info("graceful shutdown disabled, exiting")
                self.exit_code = 1
            break
        await self.shutdown()
        return self.exit_code

    # ------------------------------------------------------------------ operations
    async def reload(self) -> None:
        new = reload_config(self.config)  # ConfigError (e.g. an unenforced security key): keep running as is
        for warning in new.config_warnings:
            log.warning(warning)
        try:
            check_definitions_allowed(new)
        except DefinitionError as exc:
            raise RuntimeError(f"Failed reloading services: {exc}") from None
        self._reload_tls(new)
        # acl.tokens.* take effect at once (DNS and the HTTP gate read them per request)
        self.acl_tokens.reload(acl_settings(new, written_paths(new))[0])
        self.config.services = new.services
        self.config.checks = new.checks
        self.config.log_level = new.log_level
        set_log_level(new.log_level)
        self.config.node_meta = new.node_meta
        self.config.dns_config = new.dns_config
        self.config.ui_config = new.ui_config  # the UI reads it per request
        await self._load_config_definitions()
        self.notify_local_change()
        log.info("reload complete")

    def _reload_tls(self, new: RuntimeConfig) -> None:
        """Read the certificate, key and CA files again and give new handshakes the new
        contexts (with what auto_encrypt brought); connections already open keep theirs. As in
        Consul, reload cannot turn TLS on or off where it was not: only listeners and dialers
        that started with TLS take part."""
        try:
            https, rpc = tls_wiring.build_contexts(new, self.rpc_tls.auto, self.https_switch is not None)
        except TLSConfigError as exc:  # keep serving with the old files
            raise RuntimeError(f"Failed reloading TLS configuration: {exc}") from None
        tls_wiring.swap_contexts(self, https, rpc)

    async def leave(self, shutdown: bool = True) -> None:
        # Stop syncing first, so nothing re-registers this node after the servers remove it.
        self._leaving = True
        if self._sync_task is not None:
            self._sync_task.cancel()
        await self.consensus.leave()  # out of the voters before leaving the gossip pool
        if self.membership is not None:
            try:
                await self.membership.leave()
            except Exception as exc:
                log.warning("leave failed", extra={"error": str(exc)})
        if self.wan is not None:
            try:
                await self.wan.leave()
            except Exception as exc:
                log.warning("WAN leave failed", extra={"error": str(exc)})
        # Out of the voters and the pool, so clients go elsewhere: let what is held here finish.
        await self.consensus.drain(self.config.performance.leave_drain_time)
        if shutdown:
            asyncio.get_running_loop().call_soon(self._stop.set)

    async def join(self, addrs: list[str], wan: bool = False) -> int:
        if wan:
            if self.wan is None:
                raise RuntimeError("Must be a server to join WAN cluster")
            return await self.wan.join(addrs)
        if self.membership is None:
            raise RuntimeError("membership is not enabled on this agent")
        n = int(await self.membership.join(addrs))
        if n == 0:
            raise RuntimeError(self.membership.join_error_text() or f"Failed to join {', '.join(addrs)}")
        return n

    async def force_leave(self, node: str, prune: bool = False) -> None:
        if self.membership is None:
            raise RuntimeError("membership is not enabled on this agent")
        if not self.membership.force_leave(node, prune=prune):
            raise RuntimeError(f"agent: No node found with name '{node}'")

    async def snapshot_state(self) -> bytes:
        # Captured between two applies, encoded in a forked child: a large catalog's snapshot
        # does not hold up the requests answered meanwhile.
        start = telemetry.now()
        data = await encode_off_loop(self.machine.capture())
        telemetry.measure_since("raft.fsm.snapshot", start)
        return data

    async def restore_snapshot(self, data: bytes) -> None:
        await self.consensus.restore_snapshot(data)

    def log_stream(self, level: str, as_json: bool = False) -> AsyncIterator[str]:
        return BROADCASTER.stream(level, as_json)

    async def keyring_operation(self, op: str, key: str = "", local_only: bool = False,
                                forwarded: bool = False, token: str = "") -> list[PoolResult]:
        """Consul's Internal.KeyringOperation: a server with a WAN pool runs it on the WAN pool and
        every datacenter's LAN (the WAN pool first); `local_only` (lists) or a request forwarded
        from another datacenter's server stays on this datacenter's LAN."""
        if self.membership is None:
            return [tally(False, self.config.datacenter, {self.node_name: NodeAnswer(error=NOT_ENABLED)})]
        if self.wan is None:
            result: list[PoolResult] = await self.membership.keyring_ops.run(op, key)
            return result
        lan = [p for p in await self.membership.keyring_ops.run(op, key) if not p.wan]
        if local_only or forwarded:
            return lan
        wan_pool, *others = await self.wan.keyring_operation(op, key, token)
        return [wan_pool, *lan, *others]

    # ------------------------------------------------------------------ documents
    def self_member(self) -> dict[str, Any]:
        return info.self_member(self)

    def members_json(self, wan: bool = False) -> list[dict[str, Any]]:
        if wan:
            return self.wan.members_json() if self.wan is not None else info.wan_members(self)
        if self.membership is not None:
            return [self.membership.member_json(m) for m in self.membership.members()]
        return [self.self_member()]

    def self_info(self) -> dict[str, Any]:
        return info.self_info(self)

    def metrics_json(self) -> dict[str, Any]:
        return info.metrics_json(self)

    def metrics_prometheus(self) -> str:
        return info.metrics_prometheus(self)
