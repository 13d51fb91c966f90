"""The pure parts of `consul debug`: flag checks, redaction and the archive's index."""

from __future__ import annotations

import re
from typing import Any

from pyconsul.gocompat.durations import format_duration

TARGETS = ("metrics", "logs", "pprof", "host", "agent", "members")
MIN_INTERVAL = 5.0
MIN_DURATION = 10.0
PROTOCOL_VERSION = 1
REDACTED = "hidden"  # what Consul's sanitizer writes in place of a secret

# Keys whose values are secrets wherever they appear (tokens, gossip keys, passwords); paths to
# key files are kept — they say where a key is, not what it is.
_SECRET = re.compile(r"(token|encrypt(?!_verify)|password|secret|private_?key(?!_?(file|type|bits)))", re.I)


def check_timing(duration: float, interval: float) -> str | None:
    if duration < MIN_DURATION:
        return f"duration must be longer than {format_duration(MIN_DURATION)}"
    if interval < MIN_INTERVAL:
        return f"interval must be longer than {format_duration(MIN_INTERVAL)}"
    if duration < interval:
        return f"duration ({format_duration(duration)}) must be longer than interval ({format_duration(interval)})"
    return None


def check_targets(capture: list[str] | None) -> tuple[list[str], str | None]:
    targets = list(capture) if capture else list(TARGETS)
    for t in targets:
        if t not in TARGETS:
            return targets, f"invalid capture target {t!r}; must be one of: {', '.join(TARGETS)}"
    return targets, None


def redact(value: Any) -> Any:
    """A copy with every secret-named key's non-empty value replaced by "hidden"."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and _SECRET.search(k) and v not in ("", None, [], {}) and not isinstance(v, bool):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def index_doc(agent_version: str, interval: float, duration: float, targets: list[str]) -> dict[str, Any]:
    return {"Version": PROTOCOL_VERSION, "AgentVersion": agent_version,
            "Interval": format_duration(interval), "Duration": format_duration(duration), "Targets": targets}
