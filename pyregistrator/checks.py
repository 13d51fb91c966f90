"""SERVICE_CHECK_* settings → a Consul check definition, as registrator's Consul adapter (pure).

The first of HTTP, HTTPS, CMD, SCRIPT, TTL, TCP that is set decides the kind; HTTP, HTTPS and
TCP target the service's own address and port. Script and HTTP/TCP checks get an interval
(10s unless SERVICE_CHECK_INTERVAL); `$SERVICE_IP` and `$SERVICE_PORT` are replaced in scripts.
Scripts are sent as `Args: ["sh", "-c", script]` (Consul dropped the old `Script` field).

CMD and SCRIPT checks run a command named by the container's image on the *host* (Consul runs
script checks itself), so an image could run anything there. They are built only when the
operator opts in (`-script-checks`); otherwise `script_check_refused` says why one was skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CHECK_INTERVAL = "10s"

# SERVICE_<key> names that build the check, not the Meta.
CHECK_KEYS = frozenset(
    {
        "check_http",
        "check_https",
        "check_tcp",
        "check_ttl",
        "check_script",
        "check_cmd",
        "check_interval",
        "check_timeout",
        "check_deregister_after",
        "check_initial_status",
    }
)


@dataclass(frozen=True)
class CheckDefinition:
    http: str = ""
    tcp: str = ""
    ttl: str = ""
    args: tuple[str, ...] = ()
    interval: str = ""
    timeout: str = ""
    status: str = ""
    deregister_after: str = ""

    def to_consul(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key, value in (
            ("HTTP", self.http),
            ("TCP", self.tcp),
            ("TTL", self.ttl),
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("Status", self.status),
            ("DeregisterCriticalServiceAfter", self.deregister_after),
        ):
            if value:
                body[key] = value
        if self.args:
            body["Args"] = list(self.args)
        return body


def script_check_refused(attrs: Mapping[str, str], allow_scripts: bool) -> bool:
    """True when the attributes pick a CMD/SCRIPT check (nothing earlier in the order wins) and
    the operator has not allowed host commands."""
    if allow_scripts or attrs.get("check_http") or attrs.get("check_https"):
        return False
    return bool(attrs.get("check_cmd") or attrs.get("check_script"))


def build_check(
    attrs: Mapping[str, str], address: str, port: int, container_id: str, exposed: str,
    allow_scripts: bool = False,
) -> CheckDefinition | None:
    """The check for one service from its lower-cased SERVICE_* attributes, or None (also for a
    CMD/SCRIPT check unless `allow_scripts`: the check is skipped, not replaced by a later kind)."""
    if script_check_refused(attrs, allow_scripts):
        return None
    timeout = attrs.get("check_timeout", "")
    if attrs.get("check_http"):
        check = CheckDefinition(http=f"http://{address}:{port}{attrs['check_http']}", timeout=timeout)
    elif attrs.get("check_https"):
        check = CheckDefinition(http=f"https://{address}:{port}{attrs['check_https']}", timeout=timeout)
    elif attrs.get("check_cmd"):
        script = f"check-cmd {container_id[:12]} {exposed} {attrs['check_cmd']}"
        check = CheckDefinition(args=("sh", "-c", script))
    elif attrs.get("check_script"):
        script = attrs["check_script"].replace("$SERVICE_IP", address).replace("$SERVICE_PORT", str(port))
        check = CheckDefinition(args=("sh", "-c", script))
    elif attrs.get("check_ttl"):
        check = CheckDefinition(ttl=attrs["check_ttl"])
    elif attrs.get("check_tcp"):
        check = CheckDefinition(tcp=f"{address}:{port}", timeout=timeout)
    else:
        return None
    interval = ""
    if not check.ttl:
        interval = attrs.get("check_interval") or DEFAULT_CHECK_INTERVAL
    return CheckDefinition(
        http=check.http,
        tcp=check.tcp,
        ttl=check.ttl,
        args=check.args,
        interval=interval,
        timeout=check.timeout,
        status=attrs.get("check_initial_status", ""),
        deregister_after=attrs.get("check_deregister_after", ""),
    )
