"""What every request to Consul carries, whichever transport sends it (pure)."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping

from pyconsul.client.settings import ClientSettings

Params = Mapping[str, "str | list[str]"]


def encode_query(params: Params) -> str:
    """Go's url.Values.Encode: keys sorted, each value QueryEscape'd; a flag param is `key=`."""
    parts: list[str] = []
    for key in sorted(params):
        raw = params[key]
        for value in raw if isinstance(raw, list) else [raw]:
            parts.append(f"{urllib.parse.quote_plus(key)}={urllib.parse.quote_plus(value)}")
    return "&".join(parts)


def escape_path(path: str) -> str:
    """Go's url.URL.EscapedPath for a path we were given unescaped."""
    return urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")


def request_headers(settings: ClientSettings, token: str, user_agent: str) -> dict[str, str]:
    """The token (X-Consul-Token, never in the URL) and HTTP basic auth, as Consul's api sends them."""
    headers = {"User-Agent": user_agent}
    if token:
        headers["X-Consul-Token"] = token
    if settings.http_auth:
        headers["Authorization"] = "Basic " + base64.b64encode(settings.http_auth.encode()).decode()
    return headers


def query_defaults(settings: ClientSettings, params: Params | None, *, write: bool) -> dict[str, str | list[str]]:
    """`dc` and `stale` from the settings unless the request gives its own (stale only on reads).
    The namespace is not sent: this agent has none but `default`."""
    out: dict[str, str | list[str]] = dict(params or {})
    if settings.datacenter and "dc" not in out:
        out["dc"] = settings.datacenter
    if settings.stale and not write and "stale" not in out:
        out["stale"] = ""
    return out
