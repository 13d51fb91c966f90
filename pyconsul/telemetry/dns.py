"""DNS timers with Consul's names: `dns.ptr_query` for reverse lookups, `dns.domain_query` for
the rest, each labelled with the answering agent's `node`."""

from __future__ import annotations

import time

from pyconsul.telemetry.registry import METRICS, Registry

_ARPA = b"\x04arpa\x00"


class DnsMetrics:
    def __init__(self, node: str, reg: Registry = METRICS) -> None:
        self.reg = reg
        self.labels = (("node", node),)

    def answered(self, query: bytes, start: float) -> None:
        """`start` is a `time.perf_counter()` reading taken when the packet arrived."""
        ms = (time.perf_counter() - start) * 1000.0
        # The question follows the 12-byte header; a reverse name ends in .arpa.
        name = "dns.ptr_query" if _ARPA in query[12:].lower() else "dns.domain_query"
        self.reg.add_sample(name, ms, self.labels)
