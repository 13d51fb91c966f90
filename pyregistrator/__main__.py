"""`python -m pyregistrator [options] consul://HOST:PORT` — gliderlabs/registrator's command line.

Exit status: 2 for a bad command line, 1 when the agent cannot be reached at startup (after
-retry-attempts), 0 after SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pyconsul.loop import run as run_loop
from pyregistrator import flags
from pyregistrator.consul_client import (
    ConsulAgentClient,
    RegistryError,
    RegistryURI,
    UsageError,
    parse_registry_uri,
)
from pyregistrator.events import DockerEngine, EngineUnavailable, docker_url
from pyregistrator.mapping import MappingConfig
from pyregistrator.plan import DEREGISTER_POLICIES
from pyregistrator.reconciler import Reconciler, ReconcilerOptions

VERSION = "pyregistrator 0.1.0 (registrator v7 compatible)"
log = logging.getLogger("pyregistrator")
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"

FLAGS = [
    flags.Flag("ip", "string", "", "IP for ports mapped to the host"),
    flags.Flag("internal", "bool", False, "Use internal ports instead of published ones"),
    flags.Flag("explicit", "bool", False, "Only register containers which have SERVICE_NAME label set"),
    flags.Flag("useIpFromLabel", "string", "", "Use IP which is stored in a label assigned to the container"),
    flags.Flag("ttl-refresh", "int", 0, "Frequency with which service TTLs are refreshed"),
    flags.Flag("ttl", "int", 0, "TTL for services (default is no expiry)"),
    flags.Flag("tags", "string", "", "Append tags for all registered services"),
    flags.Flag("resync", "int", 0, "Frequency with which services are resynchronized"),
    flags.Flag("deregister", "string", "always", 'Deregister exited services "always" or "on-success"'),
    flags.Flag("retry-attempts", "int", 0, "Max retry attempts to establish a connection with the backend. Use -1 for infinite retries"),
    flags.Flag("retry-interval", "int", 2000, "Interval (in millisecond) between retry-attempts."),
    flags.Flag("cleanup", "bool", False, "Remove dangling services"),
    flags.Flag("script-checks", "bool", False,
               "Allow SERVICE_CHECK_SCRIPT and SERVICE_CHECK_CMD: a container's image then chooses a "
               "command the Consul agent runs with sh -c on this host. Without it those checks are "
               "skipped with a warning naming the container"),
    flags.Flag("same-compose-project", "bool", False,
               "Only register containers of this registrator's own Docker Compose project (the "
               "com.docker.compose.project label of the container it runs in), so stacks sharing "
               "an engine keep to their own catalogs"),
    flags.Flag("version", "bool", False, "print the version and exit"),
]


@dataclass(frozen=True)
class Settings:
    uri: RegistryURI
    mapping: MappingConfig
    options: ReconcilerOptions
    retry_attempts: int
    retry_interval: float
    same_compose_project: bool = False


def resolve(hostname: str) -> str:
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return ""  # registrator keeps 0.0.0.0 when the hostname does not resolve


def settings_from_args(argv: Sequence[str], hostname: str | None = None) -> Settings:
    """Parse and check the command line; raises flags.FlagError or UsageError."""
    values, rest = flags.parse(FLAGS, argv)
    if values["version"]:
        raise flags.HelpRequested("version")
    if len(rest) != 1:
        if not rest:
            raise flags.FlagError("Missing required argument for registry URI.")
        raise flags.FlagError("Extra unparsed arguments: " + " ".join(rest[1:]))
    ttl, refresh = int(values["ttl"]), int(values["ttl-refresh"])
    if (ttl == 0) != (refresh == 0):
        raise UsageError("-ttl and -ttl-refresh must be specified together or not at all")
    if ttl > 0 and ttl <= refresh:
        raise UsageError("-ttl must be greater than -ttl-refresh")
    if int(values["retry-interval"]) <= 0:
        raise UsageError("-retry-interval must be greater than 0")
    if int(values["resync"]) < 0:
        raise UsageError("-resync must not be negative")
    if values["deregister"] not in DEREGISTER_POLICIES:
        raise UsageError('-deregister must be "always" or "on-success"')
    host = hostname if hostname is not None else socket.gethostname()
    host_ip = str(values["ip"])
    mapping = MappingConfig(
        hostname=host,
        host_ip=host_ip,
        internal=bool(values["internal"]),
        explicit=bool(values["explicit"]),
        force_tags=str(values["tags"]),
        use_ip_from_label=str(values["useIpFromLabel"]),
        hostname_ip="" if host_ip else resolve(host),
        script_checks=bool(values["script-checks"]),
    )
    options = ReconcilerOptions(
        deregister=str(values["deregister"]),
        cleanup=bool(values["cleanup"]),
        resync=float(values["resync"]),
        refresh=float(refresh),
        retry_max=min(1.0, int(values["retry-interval"]) / 1000),
    )
    return Settings(
        uri=parse_registry_uri(rest[0]),
        mapping=mapping,
        options=options,
        retry_attempts=int(values["retry-attempts"]),
        retry_interval=int(values["retry-interval"]) / 1000,
        same_compose_project=bool(values["same-compose-project"]),
    )


async def connect(client: ConsulAgentClient, attempts: int, interval: float) -> None:
    """registrator's startup Ping: try 1 + attempts times (-1: forever), then give up."""
    attempt = 0
    while True:
        log.info("Connecting to backend (%d/%d)", attempt, attempts)
        try:
            leader = await client.ping()
            log.info("consul: current leader %s", leader)
            return
        except RegistryError:
            if attempts != -1 and attempt >= attempts:
                raise
        await asyncio.sleep(interval)
        attempt += 1


async def serve(settings: Settings) -> int:
    client = ConsulAgentClient(settings.uri)
    try:
        engine = DockerEngine(docker_url())
    except ValueError as exc:
        log.error("%s", exc)
        await client.close()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    try:
        connecting = asyncio.create_task(connect(client, settings.retry_attempts, settings.retry_interval))
        if not await _until_stopped(connecting, stopped):
            return 0
        try:
            connecting.result()
        except RegistryError as exc:
            log.error("cannot reach the Consul agent at %s: %s", settings.uri.base_url, exc)
            return 1
        mapping = settings.mapping
        if settings.same_compose_project:
            project = await own_compose_project(engine)
            if not project:
                log.error("-same-compose-project: this registrator's container (%s) has no %s label",
                          socket.gethostname(), COMPOSE_PROJECT_LABEL)
                return 2
            log.info("registering containers of Compose project %s only", project)
            mapping = replace(mapping, only_label=(COMPOSE_PROJECT_LABEL, project))
        reconciler = Reconciler(engine, client, mapping, settings.options)
        work = asyncio.create_task(reconciler.run())
        if await _until_stopped(work, stopped):
            work.result()  # an unexpected end is a bug: let it show
            return 1
        return 0
    finally:
        stopped.cancel()
        await client.close()
        await engine.close()


async def own_compose_project(engine: DockerEngine) -> str:
    """The Compose project of the container this process runs in ('' outside one): Docker sets
    the container's hostname to its short ID unless told otherwise, which the engine resolves."""
    try:
        me = await engine.inspect(socket.gethostname())
    except EngineUnavailable as exc:
        log.error("cannot inspect this registrator's container: %s", exc)
        return ""
    labels = ((me or {}).get("Config") or {}).get("Labels") or {}
    return str(labels.get(COMPOSE_PROJECT_LABEL) or "")


async def _until_stopped(task: asyncio.Task[None], stopped: asyncio.Task[bool]) -> bool:
    """Wait for `task` or a stop signal; on a signal cancel `task`. True if `task` finished."""
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return True
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return False


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = list(sys.argv[1:] if argv is None else argv)
    program = "pyregistrator"
    try:
        settings = settings_from_args(args)
    except flags.HelpRequested as req:
        if req.args == ("version",):
            print(VERSION)
        else:
            sys.stderr.write(flags.usage(program, FLAGS, "<registry URI>"))
        return 0
    except flags.FlagError as exc:
        sys.stderr.write(f"{exc}\n\n" + flags.usage(program, FLAGS, "<registry URI>"))
        return 2
    except UsageError as exc:
        sys.stderr.write(f"{program}: {exc}\n")
        return 2
    log.info("Starting %s ...", VERSION)
    return run_loop(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
