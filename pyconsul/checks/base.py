"""What every check type shares: the notifier seam, results, statuses, output capping, definitions.

A check definition is Consul's CamelCase API/catalog shape (CheckID, HTTP, Interval "10s"...).
`CheckSpec.from_definition` reads one into typed settings and applies Consul's rules (interval
floor of 1 s, default timeouts, validation, script-check gating).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyconsul.durations import parse_duration

PASSING = "passing"
WARNING = "warning"
CRITICAL = "critical"
STATUSES = (PASSING, WARNING, CRITICAL)

DEFAULT_OUTPUT_MAX_SIZE = 4096  # Consul's checks.DefaultBufSize
MIN_INTERVAL = 1.0  # Consul's checks.MinInterval
DEFAULT_HTTP_TIMEOUT = 10.0
DEFAULT_SCRIPT_TIMEOUT = 30.0

SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or "
    "'enable_local_script_checks' to true"
)
SCRIPTS_DISABLED_REMOTE = (
    "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
)


class CheckNotifier(Protocol):
    """The agent side of the scheduler: where results go."""

    def update_check(self, check_id: str, status: str, output: str) -> None:
        """A check's status or output changed (also called when unchanged; dedupe if you like)."""

    def critical_too_long(self, check_id: str) -> None:
        """The check has been critical longer than its DeregisterCriticalServiceAfter:
        deregister its service (called once per critical spell)."""


class CheckDefinitionError(ValueError):
    """A check the scheduler refuses; str() is Consul's message."""


@dataclass(frozen=True)
class CheckResult:
    status: str
    output: str


def _dur(value: Any, name: str) -> float:
    """A duration field: Go string ("10s") or a number of seconds. 0 when unset."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise CheckDefinitionError(f"Check is not valid: {name}: invalid duration {value!r}")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CheckDefinitionError(f"Check is not valid: {name}: invalid duration {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise CheckDefinitionError(f"Check is not valid: {name}: invalid duration {value!r}")
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise CheckDefinitionError(f"Check is not valid: {name}: {exc}") from None


def _int(value: Any, name: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CheckDefinitionError(f"Check is not valid: {name} must be a number")
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise CheckDefinitionError(f"Check is not valid: {name} must be a number") from None


def _get(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


@dataclass
class CheckSpec:
    """Typed settings of one check, from its API-shape definition."""

    check_id: str
    name: str
    kind: str  # http | tcp | udp | ttl | script | docker | grpc | h2ping | alias
    interval: float = 0.0
    timeout: float = 0.0
    ttl: float = 0.0
    initial_status: str = CRITICAL
    success_before_passing: int = 0
    failures_before_warning: int = 0
    failures_before_critical: int = 0
    deregister_after: float = 0.0
    output_max_size: int = DEFAULT_OUTPUT_MAX_SIZE
    service_id: str = ""
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def is_script(self) -> bool:
        return self.kind in ("script", "docker")

    @classmethod
    def from_definition(cls, d: dict[str, Any], default_max_output: int = DEFAULT_OUTPUT_MAX_SIZE) -> CheckSpec:
        _check_types(d)
        check_id = _get(d, "CheckID", "ID")
        if not check_id:
            raise CheckDefinitionError("Check is not valid: missing CheckID")
        args = _get(d, "Args", "ScriptArgs")
        kind = check_kind(d)
        if not kind:
            raise CheckDefinitionError("Check is not valid: TTL must be > 0 for TTL checks")
        if kind == "http" and (problem := http_request_problem(d)):
            raise CheckDefinitionError(f"Check is not valid: {problem}")
        if kind == "docker" and not args:
            raise CheckDefinitionError("Check is not valid: Docker checks need Args")
        interval = _dur(_get(d, "Interval"), "Interval")
        ttl = _dur(_get(d, "TTL"), "TTL")
        if interval > 0 and ttl > 0:
            raise CheckDefinitionError("Check is not valid: Interval and TTL cannot both be specified")
        if kind not in ("ttl", "alias") and interval <= 0:
            raise CheckDefinitionError(
                "Check is not valid: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks"
            )
        if kind == "alias":
            interval = interval or 1.0  # re-evaluated on notify_state_changed and at least this often
        interval = max(interval, MIN_INTERVAL) if interval else 0.0
        timeout = _dur(_get(d, "Timeout"), "Timeout")
        if timeout <= 0:
            if kind in ("script", "docker"):
                timeout = DEFAULT_SCRIPT_TIMEOUT
            else:
                # Consul: 10 s, but never longer than the interval of a faster check.
                timeout = min(DEFAULT_HTTP_TIMEOUT, interval) if interval > 0 else DEFAULT_HTTP_TIMEOUT
        status = _get(d, "Status") or CRITICAL
        if status not in STATUSES:
            raise CheckDefinitionError(f"Check is not valid: Status must be one of {', '.join(STATUSES)}")
        max_out = _int(_get(d, "OutputMaxSize"), "OutputMaxSize") or default_max_output
        if max_out < 1:
            raise CheckDefinitionError("Check is not valid: OutputMaxSize must be positive")
        return cls(
            check_id=str(check_id),
            name=str(_get(d, "Name") or check_id),
            kind=kind,
            interval=interval,
            timeout=timeout,
            ttl=ttl,
            initial_status=status,
            success_before_passing=_int(_get(d, "SuccessBeforePassing"), "SuccessBeforePassing"),
            failures_before_warning=_int(_get(d, "FailuresBeforeWarning"), "FailuresBeforeWarning"),
            failures_before_critical=_int(_get(d, "FailuresBeforeCritical"), "FailuresBeforeCritical"),
            deregister_after=_dur(_get(d, "DeregisterCriticalServiceAfter"), "DeregisterCriticalServiceAfter"),
            output_max_size=max_out,
            service_id=str(_get(d, "ServiceID") or ""),
            definition=dict(d),
        )


# Which field decides a check's type, first match wins: the one precedence for the HTTP API, config
# files and the scheduler (Consul's order in agent.addCheck). A program-running field anywhere makes
# the check a program check whatever else it carries, so nothing can ride past the script gate.
_KIND_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("DockerContainerID",), "docker"),
    (("Args", "ScriptArgs"), "script"),
    (("TTL",), "ttl"),
    (("HTTP",), "http"),
    (("TCP",), "tcp"),
    (("UDP",), "udp"),
    (("GRPC",), "grpc"),
    (("H2PING", "H2Ping"), "h2ping"),
    (("AliasService", "AliasNode"), "alias"),
)
PROGRAM_KINDS = frozenset({"script", "docker"})


def check_kind(d: dict[str, Any]) -> str:
    """The type of a CamelCase check definition ("" when it names none)."""
    for names, kind in _KIND_FIELDS:
        if _get(d, *names):
            return kind
    return ""


def runs_program(d: dict[str, Any]) -> bool:
    """Whether a definition would have the agent start a program (script or Docker exec)."""
    return check_kind(d) in PROGRAM_KINDS


_STRING_FIELDS = (
    "CheckID", "ID", "Name", "ServiceID", "HTTP", "Method", "Body", "TCP", "UDP", "GRPC", "H2PING",
    "DockerContainerID", "Shell", "AliasService", "AliasNode", "TLSServerName", "Status", "Notes",
)


def _check_types(d: dict[str, Any]) -> None:
    """Reject wrongly typed fields up front, so a run never meets them."""
    for key in _STRING_FIELDS:
        if d.get(key) is not None and not isinstance(d[key], str):
            raise CheckDefinitionError(f"Check is not valid: {key} must be a string")
    for key in ("Args", "ScriptArgs"):
        v = d.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(a, str) for a in v)):
            raise CheckDefinitionError(f"Check is not valid: {key} must be a list of strings")
    header = d.get("Header")
    if header is not None and not (
        isinstance(header, dict)
        and all(isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in header.values())
    ):
        raise CheckDefinitionError("Check is not valid: Header must map names to lists of strings")


# RFC 9110 token characters: what an HTTP method and a header name may hold.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def http_request_problem(d: dict[str, Any]) -> str:
    """Why an HTTP check's Method or Header could not go on the wire as given ("" when fine):
    CR/LF there would let a definition inject headers or whole requests."""
    method = d.get("Method")
    if isinstance(method, str) and method and not set(method) <= _TOKEN:
        return f"net/http: invalid method {json.dumps(method)}"
    header = d.get("Header")
    if isinstance(header, dict):
        for name, values in header.items():
            if not name or not set(str(name)) <= _TOKEN:
                return f"net/http: invalid header field name {json.dumps(str(name))}"
            for value in values if isinstance(values, list) else [values]:
                if any(ch in str(value) for ch in "\r\n\x00"):
                    return f"net/http: invalid header field value for {json.dumps(str(name))}"
    return ""


def script_gate(spec: CheckSpec, local: bool, enable_script_checks: bool, enable_local_script_checks: bool) -> None:
    """Refuse a script/Docker check unless the agent allows it, with Consul's error text."""
    if not spec.is_script:
        return
    if enable_script_checks:
        return
    if local and enable_local_script_checks:
        return
    raise CheckDefinitionError(SCRIPTS_DISABLED_REMOTE if enable_local_script_checks else SCRIPTS_DISABLED)


class TailBuffer:
    """Keeps the last `size` bytes written and counts all of them (Go's circbuf)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.total = 0
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        self.total += len(data)
        self._buf += data
        if len(self._buf) > self.size:
            del self._buf[: len(self._buf) - self.size]

    def text(self) -> str:
        return self._buf.decode("utf-8", errors="replace")

    def script_output(self) -> str:
        """Consul's script-check output: a note when bytes were dropped, then what was kept."""
        if self.total > self.size:
            return f"Captured {self.size} of {self.total} bytes\n...\n{self.text()}"
        return self.text()


def cap_ttl_output(output: str, max_size: int) -> str:
    """TTL updates longer than the cap are cut, saying so (Consul's CheckTTL.SetStatus)."""
    raw = output.encode()
    if len(raw) <= max_size:
        return output
    kept = raw[:max_size].decode("utf-8", errors="ignore")
    return f"{kept} ... (captured {max_size} of {len(raw)} bytes)"
