"""The packet handler: request bytes in, reply bytes (or a forward instruction) out. No sockets.

Rules:
- Fewer than 12 bytes, or a message with QR set (a response): ignored, no reply.
- A header we can read but a body we cannot: FORMERR. A non-QUERY opcode: NOTIMP. More than one
  question or OPT record, or more than 16 records: FORMERR. EDNS version above 0: BADVERS.
- Names outside our zones go to the recursors (Forward), or REFUSED when there are none.
- Anything that goes wrong while answering becomes SERVFAIL, never an exception.
- Replies answered locally go through the ReplyCache; a repeated question costs a dict lookup.
  Rotatable answers are cached as ROTATIONS cyclic shifts (built at once for small answers,
  on first use for big ones, so a miss never pays for eight big encodes).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.dns import records as r
from pyconsul.dns.cache import LazyRotations, ReplyCache, canonical_key
from pyconsul.dns.reader import CATALOG_TABLES, COORDINATES, CatalogReader, PreparedQueries
from pyconsul.dns.resolver import Question, resolve

log = logging.getLogger("pyconsul.dns")

# Rotations kept per name with several interchangeable answers.
ROTATIONS = 8
# Answers with more records than this build their rotations lazily.
EAGER_ROTATION_LIMIT = 32


@dataclass(frozen=True)
class Replies:
    """Reply bytes for one question: `first`, plus (for rotatable answers) how to build the rest."""

    first: bytes
    count: int = 1
    build: Callable[[int], bytes] | None = None
    answers: int = 0
    by_distance: bool = False  # cached against the coordinates as well as the catalog


@dataclass(frozen=True)
class Forward:
    """Send `data` to the recursors; `request` is there to build a SERVFAIL if none answers."""

    data: bytes
    request: r.Request


def parsed_key(req: r.Request) -> bytes:
    """A cache key from a parsed request. It starts with 0xFF (QR set), which no raw query key can."""
    edns = b"-" if req.edns is None else b"%d/%d/%d" % (req.edns.udp_size, req.edns.version, req.edns.do)
    flags = bytes([0xFF, req.rd, req.cd])
    return flags + b"%d/%d/" % (req.qtype, req.qclass) + edns + b"/" + req.name.encode("latin-1")


class PacketHandler:
    def __init__(
        self, reader: CatalogReader, config: RuntimeConfig, rng: random.Random | None = None,
        cache: ReplyCache | None = None, queries: PreparedQueries | None = None,
        may_answer: Callable[[], bool] | None = None,
    ) -> None:
        self.reader = reader
        self.queries = queries
        # With ACLs on: whether the agent's default token may read every node and service. When
        # it may not, every name is NXDOMAIN (checked before the reply cache, which holds answers
        # built for whoever could see them).
        self.may_answer = may_answer
        self.config = config
        self.rng = rng or random.Random()
        self.cache = cache if cache is not None else ReplyCache(
            lambda: reader.max_index(*CATALOG_TABLES), lambda: config.dns_config,
            coordinates_fn=lambda: reader.max_index(COORDINATES),
        )
        self.recursion_available = bool(config.recursors)
        # Tables the resolver derives from the catalog, valid for one catalog index.
        self._memo: dict[str, object] = {}
        self._memo_index: object = None

    def handle(self, data: bytes, tcp: bool = False) -> bytes | Forward | None:
        if type(data) is not bytes:
            data = bytes(data)
        if self.may_answer is not None and not self.may_answer():
            return r.header_only_reply(data, r.NXDOMAIN)
        cache = self.cache
        key = data[2:]
        tail = cache.tail(key, tcp)
        if tail is not None:
            return data[:2] + tail
        ckey = canonical_key(data)
        if ckey is not None and ckey != key:
            tail = cache.tail(ckey, tcp)
            if tail is not None:
                return data[:2] + tail
        index = cache.index
        try:
            req = r.parse_request(data)
        except r.RequestError as exc:
            log.debug("%s", exc)
            return r.header_only_reply(data, exc.rcode)
        except ValueError:
            return None
        if ckey is None:
            # Unusual encodings (compression in the question, trailing bytes...) are cached by
            # their parsed question, so they cannot be used to bypass the cache.
            ckey = parsed_key(req)
            tail = cache.tail(ckey, tcp)
            if tail is not None:
                return data[:2] + tail
        cache.misses += 1
        try:
            out = self._answer(data, req, tcp)
        except Exception:  # a bug or an unencodable catalog row must not take the server down
            log.exception("failed to answer %s %s", req.name, r.qtype_name(req.qtype))
            return r.error_reply(req, r.SERVFAIL, self.recursion_available)
        if isinstance(out, Forward):
            return out
        if ckey is not None:
            self._remember(ckey, out, tcp, index)
        return out.first

    def _remember(self, key: bytes, out: Replies, tcp: bool, index: int) -> None:
        first = out.first[2:]
        if out.build is None:
            self.cache.put(key, [first], tcp, index, by_distance=out.by_distance)
        elif out.answers <= EAGER_ROTATION_LIMIT:
            try:
                rest = [out.build(i) for i in range(1, out.count)]
            except Exception:
                log.exception("failed to build rotations")
                rest = []
            # The next client gets rotation 1: this one got rotation 0.
            self.cache.put(key, rest + [first], tcp, index)
        else:
            self.cache.put(key, LazyRotations(out.build, out.count, first), tcp, index)

    def _answer(self, data: bytes, req: r.Request, tcp: bool) -> Replies | Forward:
        ra = self.recursion_available
        if req.edns is not None and req.edns.version != 0:
            return Replies(r.error_reply(req, r.BADVERS, ra))
        if self._memo_index != self.cache.index:
            self._memo = {}
            self._memo_index = self.cache.index
        ans = resolve(Question(req.name, req.labels, req.qtype), self.reader, self.config, self.rng, self._memo,
                      self.queries)
        if ans.forward:
            if self.config.recursors:
                return Forward(data, req)
            return Replies(r.error_reply(req, r.REFUSED, ra))
        if req.qclass not in (r.C_IN, r.C_ANY):
            return Replies(r.error_reply(req, r.REFUSED, ra))
        dns = self.config.dns_config
        limits = r.limits_for(req, tcp, dns.udp_answer_limit, dns.a_record_limit, dns.enable_truncate)
        n = len(ans.answer)
        first = r.encode_reply(req, ans, limits, ra)
        if not ans.rotate or n < 2:
            return Replies(first, by_distance=ans.by_distance)
        k = min(n, ROTATIONS)

        def build(i: int) -> bytes:
            # Rotation i of the cached reply, without its ID (the cache stores tails).
            return r.encode_reply(req, ans, limits, ra, shift=i * n // k)[2:]

        return Replies(first, k, build, n)
