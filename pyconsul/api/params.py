"""Query options every endpoint shares, parsed once with Consul's error texts."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from pyconsul.api.errors import HTTPError
from pyconsul.durations import parse_duration

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0


@dataclass(slots=True)
class QueryOptions:
    index: int = 0
    wait: float = DEFAULT_WAIT
    stale: bool = False
    consistent: bool = False
    filter: str = ""
    token: str = ""
    dc: str = ""
    hash: str = ""
    pretty: bool = False
    peer: str = ""  # a cluster peer's name (catalog and health reads)


def _flag(q: object, name: str) -> bool:
    return name in q  # type: ignore[operator]


def parse_query_options(req: web.Request) -> QueryOptions:
    q = req.rel_url.query
    opts = QueryOptions()
    if "index" in q and q["index"] != "":
        try:
            opts.index = int(q["index"])
            if not 0 <= opts.index < 2**64:
                raise ValueError
        except ValueError:
            raise HTTPError(400, "Invalid index") from None
    if "wait" in q and q["wait"] != "":
        try:
            opts.wait = min(parse_duration(q["wait"]), MAX_WAIT)
        except ValueError:
            raise HTTPError(400, "Invalid wait time") from None
        if opts.wait < 0:
            raise HTTPError(400, "Invalid wait time")
    if q.get("max_stale"):
        try:
            parse_duration(q["max_stale"])
        except ValueError:
            raise HTTPError(400, f'Invalid max_stale value "{q["max_stale"]}"') from None
    opts.stale = _flag(q, "stale")
    opts.consistent = _flag(q, "consistent")
    if opts.stale and opts.consistent:
        raise HTTPError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.")
    opts.filter = q.get("filter", "")
    opts.dc = q.get("dc", "")
    opts.hash = q.get("hash", "")
    opts.peer = q.get("peer", "")
    opts.pretty = _flag(q, "pretty")
    opts.token = request_token(req)
    return opts


def request_token(req: web.Request) -> str:
    """Consul's order: `?token=`, then X-Consul-Token, then `Authorization: Bearer <token>` (the
    scheme in any case; only the first word after it)."""
    token = req.rel_url.query.get("token", "")
    if token:
        return token
    token = req.headers.get("X-Consul-Token", "")
    if token:
        return token
    scheme, _, rest = req.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        words = rest.split()
        return words[0] if words else ""
    return ""


_TRUE = ("", "true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")


def query_bool(req: web.Request, name: str) -> bool:
    """Consul treats a present flag (`?passing`, `?passing=`, `?passing=true`) as true and
    refuses a value that is no boolean."""
    val = req.rel_url.query.get(name)
    if val is None:
        return False
    low = val.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise HTTPError(400, f"Invalid value for ?{name}")


def query_int(req: web.Request, name: str, default: int = 0, what: str = "") -> int:
    val = req.rel_url.query.get(name)
    if val is None or val == "":
        return default
    try:
        return int(val)
    except ValueError:
        raise HTTPError(400, f"Invalid {what or name}: {val!r}") from None


def node_meta_filters(req: web.Request) -> dict[str, str]:
    """`?node-meta=key:value` (repeatable)."""
    out: dict[str, str] = {}
    for item in req.rel_url.query.getall("node-meta", []):
        key, _, value = item.partition(":")
        out[key] = value
    return out
