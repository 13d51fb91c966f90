"""The reply cache's key rule, one function for both HTTP paths.

A cached reply may only be served to a request the handler would have answered the same way, so
the key is built from what the handler reads: the raw path (aiohttp routes on it as sent) and
the query as percent-decoded name/value pairs, re-encoded unambiguously. The fast path computes
the key from the request target's bytes and the full path from `req.raw_path` — the same text
through the same function — so `?tag=a%2526b` and `?tag=a%26b` can never share an entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

# Blocking and consistency options change how a reply is waited for, not what it holds.
VOLATILE = frozenset({"index", "wait", "hash", "stale", "consistent", "cached"})

# A `%` must start a two-digit escape; anything else is decoded differently by different URL
# libraries, so such a target is not cached at all.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    key: str  # the cache key
    index: int  # the ?index value (0 when absent)
    consistent: bool  # ?consistent was given (never served from the cache without a barrier)
    stale: bool = False  # ?stale was given (any server may answer, labelled stale)


def _decode(part: str) -> str:
    # `+` is a space in a query, as in Go's url.ParseQuery and yarl; strict UTF-8 so an invalid
    # sequence cannot become a replacement character that collides with a real one.
    return unquote_to_bytes(part.replace("+", " ")).decode("utf-8")


def reply_target(target: str) -> ReplyTarget | None:
    """The cache identity of a request target (path and query as sent), or None when the target
    is not one the cache keys (non-ASCII, a malformed escape, a bad ?index)."""
    if not target.isascii() or "#" in target:
        return None
    path, _, qs = target.partition("?")
    if not qs:
        return ReplyTarget(path, 0, False)
    if _BAD_ESCAPE.search(qs):
        return None
    kept: list[str] = []
    index = 0
    consistent = False
    stale = False
    try:
        for part in qs.split("&"):
            if not part:
                continue
            raw_name, _, raw_value = part.partition("=")
            name = _decode(raw_name)
            if name in VOLATILE:
                if name == "index":
                    value = _decode(raw_value)
                    if not value.isdigit():
                        return None
                    index = int(value)
                elif name == "consistent":
                    consistent = True
                elif name == "stale":
                    stale = True
                continue
            kept.append(quote(name, safe="") + "=" + quote(_decode(raw_value), safe=""))
    except UnicodeDecodeError:
        return None
    return ReplyTarget(path + ("?" + "&".join(kept) if kept else ""), index, consistent, stale)
