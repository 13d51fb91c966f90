"""AgentPort: everything the HTTP API may ask of the agent it serves, and nothing more.

`APIContext.agent` is an `AgentPort`; `pyconsul.agent.agent.Agent` satisfies it structurally, so
no module under `api/` imports from `agent/` (a test holds this). The small protocols below are
the parts handlers use: the agent's own services and checks (`LocalServices`), session TTL
timers, and — on a client agent — the relay that hands requests to a server.

The ACL issue's single authorization call goes in `pyconsul.api.app.authorize`, the one place
every request passes after its token is parsed (`QueryOptions.token`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from pyconsul.acl.tokens import AgentTokens
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.protocol import Consensus
from pyconsul.fsm.commands import Command
from pyconsul.gossip.keyring_query import PoolResult
from pyconsul.state.store import StateStore

Row = dict[str, Any]

# Marks a request another datacenter's server forwarded here: it is answered here, never
# forwarded again (the server port admits it only from WAN servers).
WAN_FORWARD_HEADER = "X-Pyconsul-Wan-Forward"


class LocalServices(Protocol):
    """The agent's own services and checks (`/v1/agent/service*`, `/v1/agent/check*`)."""

    @property
    def services(self) -> Mapping[str, Row]: ...

    @property
    def checks(self) -> Mapping[str, Row]: ...

    async def add_service(
        self, svc: Row, checks: list[Row], replace_existing_checks: bool = False, from_config: bool = False
    ) -> None: ...

    async def remove_service(self, sid: str) -> bool: ...

    async def add_check(self, chk: Row, from_config: bool = False) -> None: ...

    async def remove_check(self, cid: str) -> bool: ...

    async def node_maintenance(self, enable: bool, reason: str) -> None: ...

    async def service_maintenance(self, sid: str, enable: bool, reason: str) -> bool: ...


class SessionTimerControl(Protocol):
    """Session TTL timers, run by the agent that created the session."""

    def reset(self, sid: str, ttl: str) -> None: ...

    def clear(self, sid: str) -> None: ...


class ServerRelay(Protocol):
    """A client agent's way to the servers: one HTTP request to whichever server answers.
    Raises `pyconsul.consensus.errors.ForwardFailed` when none did."""

    async def request(
        self, method: str, path_qs: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]: ...


class AgentPort(Protocol):
    # What the API reads and writes through.
    @property
    def store(self) -> StateStore: ...

    @property
    def consensus(self) -> Consensus: ...

    @property
    def local(self) -> LocalServices: ...

    @property
    def session_timers(self) -> SessionTimerControl: ...

    @property
    def server_relay(self) -> ServerRelay | None:
        """Set on client agents: every request but /v1/agent/* is answered by a server."""

    # Identity and settings (datacenter, node ID, script-check switches).
    @property
    def config(self) -> RuntimeConfig: ...

    @property
    def node_name(self) -> str: ...

    @property
    def acl_tokens(self) -> AgentTokens:
        """The agent's own ACL tokens (config, then `/v1/agent/token/*`, persisted if asked)."""

    async def write(self, command: Command) -> Any:
        """Apply `command` through consensus; the state machine's result (a StateError if it
        refused the command)."""

    async def snapshot_state(self) -> bytes:
        """The state store as a `snapshot save` image (encoded off the event loop)."""

    async def restore_snapshot(self, data: bytes) -> None:
        """Replace the state with a `snapshot save` image (ValueError if it is unusable)."""

    # Local state changes and checks.
    def notify_local_change(self) -> None: ...

    async def local_changed(self, timeout: float) -> None:
        """Return at the next local change, or after `timeout` seconds."""

    async def ttl_update(self, check_id: str, status: str, output: str) -> bool: ...

    # Agent operations.
    async def reload(self) -> None: ...

    async def leave(self, shutdown: bool = True) -> None: ...

    async def join(self, addrs: list[str], wan: bool = False) -> int: ...

    async def force_leave(self, node: str, prune: bool = False) -> None: ...

    async def keyring_operation(self, op: str, key: str = "", local_only: bool = False,
                                forwarded: bool = False, token: str = "") -> list[PoolResult]:
        """Run a gossip keyring operation (list, install, use, remove) on every alive member;
        one result per pool (WAN first when there are servers, then each datacenter's LAN;
        `local_only` or `forwarded` from another datacenter: this datacenter's LAN only)."""

    def log_stream(self, level: str, as_json: bool = False) -> AsyncIterator[str]:
        """Formatted log lines at `level` and above (Consul's JSON shape with `as_json`)."""

    # Documents.
    def self_info(self) -> dict[str, Any]: ...

    def members_json(self, wan: bool = False) -> list[dict[str, Any]]: ...

    # Other datacenters (servers: through the WAN pool's router).
    def datacenters(self) -> list[str]:
        """Every known datacenter, nearest (the local one) first."""

    def acl_replication_status(self) -> dict[str, Any]:
        """`/v1/acl/replication` (Consul's ACLReplicationStatus)."""
        return {}

    def on_acl_change(self, hook: Callable[[], None]) -> None:
        """Call `hook` after ACL rows change other than through this agent's API (replication)."""

    def datacenter_maps(self) -> list[dict[str, Any]] | None:
        """The WAN servers' coordinates by datacenter; None without a WAN pool."""
        return None

    async def forward_to_dc(self, dc: str, method: str, path_qs: str, body: bytes | None,
                            headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """dc's answer to a request (a server of dc answers it); ForwardFailed with Consul's
        text when dc has no reachable server (`No path to datacenter` when none is known)."""

    def metrics_json(self) -> dict[str, Any]: ...

    def metrics_prometheus(self) -> str: ...
