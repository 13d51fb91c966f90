"""`consul agent`: parse flags and config files, start the agent, run until a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from pyconsul import CONSUL_COMPAT_VERSION
from pyconsul.cli.registry import register
from pyconsul.config.runtime import RuntimeConfig


def _load_config(argv: list[str]) -> RuntimeConfig:
    from pyconsul.config.loader import load_agent_config

    return load_agent_config(argv)


def _banner(cfg: RuntimeConfig) -> str:
    from pyconsul.tls.context import outgoing_tls

    p = cfg.ports
    https, rpc = cfg.tls_settings.https, cfg.tls_settings.internal_rpc
    # What is in effect: an auto_encrypt client dials the servers with TLS whatever its
    # verify_outgoing says.
    rpc_outgoing = outgoing_tls(cfg)
    lines = [
        "==> Starting Consul agent...",
        f"               Version: '{CONSUL_COMPAT_VERSION}'",
        f"               Node ID: '{cfg.node_id}'",
        f"             Node name: '{cfg.node_name}'",
        f"            Datacenter: '{cfg.datacenter}' (Segment: '<all>')" if cfg.server
        else f"            Datacenter: '{cfg.datacenter}' (Segment: '')",
        f"                Server: {str(cfg.server).lower()} (Bootstrap: {str(cfg.bootstrap).lower()})",
        f"           Client Addr: [{cfg.client_addr}] (HTTP: {p.http}, HTTPS: {p.https}, gRPC: {p.grpc}, DNS: {p.dns})",
        f"          Cluster Addr: {cfg.advertise()} (LAN: {p.serf_lan}, WAN: {p.serf_wan})",
        f"     Gossip Encryption: {str(bool(cfg.encrypt)).lower()}",
        f"      Auto-Encrypt-TLS: {str(bool(cfg.auto_encrypt.tls)).lower()}",
        f"             HTTPS TLS: Verify Incoming: {str(https.verify_incoming).lower()}, "
        f"Verify Outgoing: {str(https.verify_outgoing).lower()}, Min Version: {https.min_version}",
        f"      Internal RPC TLS: Verify Incoming: {str(rpc.verify_incoming).lower()}, "
        f"Verify Outgoing: {str(rpc_outgoing).lower()} (Verify Hostname: "
        f"{str(rpc.verify_server_hostname).lower()}), Min Version: {rpc.min_version}",
        "",
        "==> Log data will now stream in as it occurs:",
        "",
    ]
    return "\n".join(lines)


async def _serve(cfg: RuntimeConfig) -> int:
    from pyconsul.agent.agent import Agent
    from pyconsul.agent.definitions import DefinitionError
    from pyconsul.raft.storage import StorageError
    from pyconsul.sdnotify import notify
    from pyconsul.tls.certs import CertError
    from pyconsul.tls.context import TLSConfigError, https_server_context, rpc_contexts

    # An auto_encrypt client without certificate files of its own serves HTTPS with the
    # certificate it gets from the servers (agent/tls_wiring.py), so HTTPS waits for it.
    auto_cert = cfg.auto_encrypt.tls and not cfg.server and not cfg.tls_settings.https.has_cert
    try:
        http_ssl = None if auto_cert else https_server_context(cfg)
        rpc_tls = rpc_contexts(cfg)
    except TLSConfigError as exc:
        print(f"==> Error starting agent: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        agent = Agent(cfg, http_ssl=http_ssl, rpc_tls=rpc_tls)
    except (StorageError, CertError) as exc:  # the Raft state file is read while wiring the agent
        print(f"==> Error starting agent: {exc}", file=sys.stderr, flush=True)
        return 1
    agent.install_signal_handlers()
    try:
        await agent.start()
    except (OSError, DefinitionError, StorageError) as exc:
        print(f"==> Error starting agent: {exc}", file=sys.stderr, flush=True)
        await agent.shutdown()
        return 1
    print("==> Consul agent running!", flush=True)
    notify("READY=1")
    return await agent.run_until_signal()


def run_agent(argv: list[str]) -> int:
    from pyconsul.config.errors import HelpRequested
    from pyconsul.logs import outputs_from_config, setup_logging

    try:
        cfg = _load_config(argv)
    except HelpRequested as exc:
        print(str(exc), file=sys.stderr)
        return 0
    except Exception as exc:  # ConfigError and friends: one clear line, exit 1
        if type(exc).__name__ in ("ConfigError", "ValueError", "FlagError", "SystemExit"):
            print(f"==> {exc}", file=sys.stderr)
            return 1
        raise
    if not cfg.dev and not cfg.data_dir:
        print("==> data_dir cannot be empty", file=sys.stderr)
        return 1
    try:
        setup_logging(cfg.log_level, cfg.log_json, outputs_from_config(cfg))
    except (OSError, ValueError) as exc:
        print(f"==> {exc}", file=sys.stderr, flush=True)
        return 1
    from pyconsul.fdlimit import raise_open_file_limit

    raise_open_file_limit()
    print(_banner(cfg), flush=True)
    for warning in cfg.config_warnings:  # unimplemented keys, security keys allowed unenforced
        logging.getLogger("pyconsul.config").warning(warning)
    # Consul creates the data dir before it stores the pid, so a pid file beside the data dir
    # (DIR/data + DIR/pid, DIR not yet there) works; the pid file's own directory is made too.
    try:
        if cfg.data_dir and not cfg.dev:
            os.makedirs(cfg.data_dir, mode=0o755, exist_ok=True)
        if cfg.pid_file:
            # systemd units put it under /run/<name>/, which may not exist yet.
            os.makedirs(os.path.dirname(os.path.abspath(cfg.pid_file)), mode=0o755, exist_ok=True)
            with open(cfg.pid_file, "w") as f:
                f.write(str(os.getpid()))
    except OSError as exc:
        pid_paths = (cfg.pid_file, os.path.dirname(os.path.abspath(cfg.pid_file))) if cfg.pid_file else ()
        what = "pid file" if getattr(exc, "filename", None) in pid_paths else "data dir"
        print(f"==> Error starting agent: Could not open {what}: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        from pyconsul.loop import run

        return run(_serve(cfg))
    except KeyboardInterrupt:  # SIGINT before the agent's own handlers were installed
        print("==> Caught signal: interrupt (during startup); exiting", file=sys.stderr, flush=True)
        return 1
    finally:
        if cfg.pid_file:
            try:
                os.unlink(cfg.pid_file)
            except OSError:
                pass


def _main(argv: list[str]) -> int:
    return run_agent(argv)


register(("agent",), _main, "Runs a Consul agent")
_ = asyncio  # the agent runs on uvloop when importable (pyconsul.loop)
