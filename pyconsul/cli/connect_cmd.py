"""`consul connect proxy` and `consul connect ca get-config|set-config`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import ssl
from typing import Any

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError, settings_from_flags
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register, register_group

GROUP_HELP = """
Usage: consul connect <subcommand> [options] [args]

  This command has subcommands for interacting with Consul Connect.

  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Run the built-in Connect mTLS proxy

      $ consul connect proxy

  For more examples, ask for subcommand help or view the documentation.
"""

CA_HELP = """
Usage: consul connect ca <subcommand> [options] [args]

  This command has subcommands for interacting with Consul Connect's
  Certificate Authority (CA).

  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Get the configuration:

      $ consul connect ca get-config

  Update the configuration:

      $ consul connect ca set-config -config-file ca.json

  For more examples, ask for subcommand help or view the documentation.
"""

GET_HELP = """
Usage: consul connect ca get-config [options]

  Displays the current Connect Certificate Authority (CA) configuration.
"""

SET_HELP = """
Usage: consul connect ca set-config [options]

  Modifies the current Connect Certificate Authority (CA) configuration.
"""


def ca_get_config(argv: list[str]) -> int:
    opts = new_flags(GET_HELP).parse(argv)
    try:
        config = connect(opts).request("GET", "/v1/connect/ca/configuration").json()
    except ConsulError as exc:
        error(f"Error request CA configuration: {exc}")
        return 1
    info(json.dumps(config, indent="\t"))
    return 0


def ca_set_config(argv: list[str]) -> int:
    fs = new_flags(SET_HELP)
    fs.string("config-file", "", "The path to the config file to use.", placeholder="value")
    fs.bool("force-without-cross-signing", False, "Indicates that the CA reconfiguration should go ahead even "
            "if the current CA is unable to cross sign certificates. This risks temporary connection failures "
            "during the rollout as new leafs will be rejected by proxies that have not yet observed the new "
            "root cert but is the only option if a CA that doesn't support cross signing needs to be "
            "reconfigured or mirated away from.")
    opts = fs.parse(argv)
    if not opts["config-file"]:
        error("The -config-file flag is required")
        return 1
    try:
        with open(opts["config-file"], encoding="utf-8") as fh:
            body = json.load(fh)
    except OSError as exc:
        error(f"Error reading config file: {exc}")
        return 1
    except ValueError as exc:
        error(f"Error parsing config file: {exc}")
        return 1
    if opts["force-without-cross-signing"]:
        body["ForceWithoutCrossSigning"] = True
    try:
        connect(opts).request("PUT", "/v1/connect/ca/configuration", None, json.dumps(body))
    except ConsulError as exc:
        error(f"Error setting CA configuration: {exc}")
        return 1
    info("Configuration updated!")
    return 0


PROXY_HELP = """
Usage: consul connect proxy [options]

  Starts a Connect-capable proxy that can accept incoming connections
  and proxy outgoing connections to Connect-capable services. Connections
  between proxies are mutually authenticated with TLS and authorized by
  intentions.

      $ consul connect proxy -sidecar-for web

      $ consul connect proxy -service web -upstream db:8181
"""


def _proxy_flags() -> Any:
    fs = new_flags(PROXY_HELP)
    fs.string("proxy-id", "", "The proxy's ID on the local agent.", placeholder="value")
    fs.string("sidecar-for", "", "The ID of a service instance on the local agent that this proxy should become "
              "a sidecar for. It requires that the proxy service is registered with the agent as a "
              "connect-proxy with Proxy.DestinationServiceID set to this value. If more than one such proxy "
              "is registered it will fail.", placeholder="value")
    fs.string("service", "", "Name of the service this proxy is representing.", placeholder="value")
    fs.list("upstream", "Upstream service to support connecting to. The format should be 'name:addr', such "
            "as 'db:8181'. This will make 'db' available on port 8181. This can be repeated multiple times.",
            placeholder="value")
    fs.string("service-addr", "", "Address of the local service to proxy. Only useful if -listen and -service "
              "are both set.", placeholder="value")
    fs.string("listen", "", "Address to listen for inbound connections to the proxied service. Must be "
              "specified with -service and -service-addr.", placeholder="value")
    fs.string("http-proxy", "", "Address (host:port) of a plain HTTP proxy listener for local apps (http_proxy=): "
              "a request for http://<service>/ (or <service>.service.consul) goes to that Connect service "
              "over the mesh; CONNECT is tunnelled.", placeholder="value")
    fs.bool("register", False, "Self-register with the local Consul agent. Only useful with -listen.")
    fs.string("register-id", "", "ID suffix for the service. Use this to disambiguate with other proxies.",
              placeholder="value")
    fs.string("log-level", "INFO", "Specifies the log level.", placeholder="value")
    fs.bool("log-json", False, "Output logs in JSON format.")
    fs.string("pprof-addr", "", "Enable debugging via pprof. Providing a host:port (or just ':port') enables "
              "profiling HTTP endpoints on that address.", placeholder="value")
    return fs


def proxy(argv: list[str]) -> int:
    from pyconsul.connect import proxy_config as pc

    opts = _proxy_flags().parse(argv)
    if opts.args:
        error("Should have no non-flag arguments.")
        return 1
    proxy_id = opts["proxy-id"] or os.environ.get("CONNECT_PROXY_ID", "")
    sidecar_for = opts["sidecar-for"] or os.environ.get("CONNECT_SIDECAR_FOR", "")
    if opts["register"] and not (opts["service"] and opts["listen"]):
        error("-register may only be specified with -service and -listen")
        return 1
    client = connect(opts)
    if sidecar_for and not proxy_id:
        try:
            services = client.request("GET", "/v1/agent/services").json()
            proxy_id = pc.find_sidecar(services, sidecar_for)
        except ConsulError as exc:
            error(f"Failed looking up sidecar proxy info for {sidecar_for}: {exc}")
            return 1
        except pc.ProxyConfigError as exc:
            error(str(exc))
            return 1
    if not opts["service"] and not proxy_id:
        error("-service or -proxy-id must be specified so that proxy can configure itself.")
        return 1
    try:
        if proxy_id:
            svc = client.request("GET", f"/v1/agent/service/{proxy_id}").json()
            cfg = pc.from_registration(svc)
            lines = pc.banner_agent_mode(sidecar_for, proxy_id)
        else:
            cfg = pc.from_flags(opts["service"], list(opts["upstream"] or []), opts["listen"], opts["service-addr"])
            lines = pc.banner_flags_mode(cfg)
        if opts["http-proxy"]:
            cfg = dataclasses.replace(cfg, http_proxy=pc.split_hostport(opts["http-proxy"], "-http-proxy"))
            lines.append(pc._line("HTTP proxy", opts["http-proxy"]))
    except ConsulError as exc:
        error(f"Failed to get proxy configuration: {exc}")
        return 1
    except pc.ProxyConfigError as exc:
        error(str(exc))
        return 1
    for line in lines:
        info(line)
    info("")
    info("==> Log data will now stream in as it occurs:")
    info("")
    register_id = ""
    if opts["register"]:
        register_id = opts["register-id"] or f"{cfg.service}-proxy"
    from pyconsul.loop import run

    code = run(_run(opts, cfg, opts["log-level"], register_id))  # uvloop when it is there
    info("==> Consul Connect proxy shutdown")
    return code


async def _run(opts: Any, cfg: Any, level: str, register_id: str) -> int:
    from pyconsul.client.aio import AsyncClient
    from pyconsul.connect.proxy import Proxy, ProxyLog

    client = AsyncClient(settings_from_flags(opts), user_agent="pyconsul-connect-proxy", connection_limit=0)
    log = ProxyLog(level)
    px = Proxy(client, cfg, log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A peer that fails our TLS checks (no leaf, wrong roots) ends in asyncio's handshake
        # error: one line, as Consul logs it, not a stack.
        exc = context.get("exception")
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            log.error(f"failed TLS verification: {exc}")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(on_error)
    try:
        await px.start()
    except Exception as exc:
        log.error(f"failed to start proxy: {exc}")
        await px.close()
        return 1
    keeper = None
    if register_id:
        keeper = asyncio.ensure_future(_keep_registered(client, cfg, register_id, log))
    await stop.wait()
    if keeper is not None:
        keeper.cancel()
        try:
            await client.request("PUT", f"/v1/agent/service/deregister/{register_id}")
        except Exception as exc:
            log.warn(f"failed to deregister {register_id}: {exc}")
    await px.close()
    return 0


async def _keep_registered(client: Any, cfg: Any, service_id: str, log: Any) -> None:
    """-register: the proxy as a connect-proxy service with a TTL check kept passing."""
    p = cfg.public
    check_id = f"{service_id}-ttl"
    body = {
        "ID": service_id, "Name": f"{cfg.service}-proxy", "Kind": "connect-proxy",
        "Address": p.bind_host, "Port": p.bind_port,
        "Proxy": {"DestinationServiceName": cfg.service, "LocalServiceAddress": p.backend_host,
                  "LocalServicePort": p.backend_port},
        "Check": {"CheckID": check_id, "Name": "proxy heartbeat", "TTL": "30s",
                  "Notes": "Built-in proxy will heartbeat this check."},
    }
    while True:
        try:
            resp = await client.request("PUT", "/v1/agent/service/register", json=body)
            if resp.status == 200:
                while True:
                    await client.request("PUT", f"/v1/agent/check/pass/{check_id}")
                    await asyncio.sleep(10.0)
            log.warn(f"failed to register proxy: {resp.status} {resp.text()}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warn(f"failed to register proxy: {exc}")
        await asyncio.sleep(5.0)


register_group(("connect",), "Interact with Consul Connect", GROUP_HELP)
register_group(("connect", "ca"), "Interact with the Consul Connect Certificate Authority (CA)", CA_HELP)
register(("connect", "ca", "get-config"), ca_get_config, "Display the current Connect Certificate Authority (CA) configuration")
register(("connect", "ca", "set-config"), ca_set_config, "Modify the current Connect CA configuration")
register(("connect", "proxy"), proxy, "Runs a Connect proxy")
