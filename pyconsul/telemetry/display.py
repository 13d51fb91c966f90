"""`/v1/agent/metrics` in Consul's JSON shape (go-metrics' in-memory DisplayMetrics)."""

from __future__ import annotations

import time
from typing import Any

from pyconsul.telemetry.registry import Aggregate, Interval, Registry


def _aggregate(name: str, labels: dict[str, str], agg: Aggregate) -> dict[str, Any]:
    return {
        "Name": name, "Count": agg.count, "Rate": agg.total / 10.0, "Sum": agg.total,
        "Min": agg.min if agg.count else 0.0, "Max": agg.max if agg.count else 0.0,
        "Mean": agg.mean, "Stddev": agg.stddev, "Labels": labels,
    }


def display_metrics(reg: Registry, interval: Interval | None = None) -> dict[str, Any]:
    """Gauges, Counters and Samples of one interval, each sorted by name as Consul sorts them."""
    iv = interval or reg.display_interval()
    gauges = sorted(
        ({"Name": reg.full_name(n, gauge=True), "Value": v, "Labels": dict(lb)} for (n, lb), v in iv.gauges.items()),
        key=lambda d: d["Name"])
    counters = sorted((_aggregate(reg.full_name(n), dict(lb), a) for (n, lb), a in iv.counters.items()),
                      key=lambda d: d["Name"])
    samples = sorted((_aggregate(reg.full_name(n), dict(lb), a) for (n, lb), a in iv.samples.items()),
                     key=lambda d: d["Name"])
    return {
        "Timestamp": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(iv.start)),
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": samples,
    }
