"""Metrics with Consul's names: emit through the module functions (go-metrics' global API).

    from pyconsul import telemetry
    telemetry.incr_counter("rpc.request")
    start = telemetry.now(); ...; telemetry.measure_since("kvs.apply", start)
"""

from __future__ import annotations

from pyconsul.telemetry.registry import METRICS, Labels, Registry, labels_of

__all__ = ["METRICS", "Labels", "Registry", "add_sample", "incr_counter", "labels_of", "measure_since",
           "now", "set_gauge"]

incr_counter = METRICS.incr_counter
add_sample = METRICS.add_sample
set_gauge = METRICS.set_gauge
measure_since = METRICS.measure_since


def now() -> float:
    """A start time for `measure_since` (the registry's monotonic clock)."""
    return METRICS.clock.monotonic()
