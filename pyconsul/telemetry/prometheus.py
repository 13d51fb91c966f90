"""The Prometheus text exposition of the registry, through prometheus-client.

Consul's sink names a series by its dotted key with `.` and `-` turned to `_`
(`consul.raft.leader.lastContact` → `consul_raft_leader_lastContact`); counters are `counter`,
gauges `gauge`, timers `summary` with quantiles 0.5/0.9/0.99 over the last 10 s plus cumulative
`_sum`/`_count`. Series not emitted within `prometheus_retention_time` are left out, as the
Go sink expires them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from pyconsul.telemetry.registry import Registry

_BAD = re.compile(r"[^a-zA-Z0-9_:]")
_COUNTER_HEADER = re.compile(r"^# HELP (\S+)_total (.*)\n# TYPE \1_total counter$", re.M)


def prom_name(dotted: str) -> str:
    return _BAD.sub("_", dotted)


class _Collector:
    def __init__(self, reg: Registry, retention: float) -> None:
        self.reg = reg
        self.retention = retention

    def collect(self) -> Iterator[Metric]:
        reg = self.reg
        live = reg.live(self.retention)
        families: dict[str, Metric] = {}

        def family(name: str, kind: str) -> Metric:
            fam = families.get(name)
            if fam is None:
                fam = families[name] = Metric(name, name, kind)
            return fam

        for key, value in reg.gauges.items():
            if key in live:
                name = prom_name(reg.full_name(key[0], gauge=True))
                family(name, "gauge").add_sample(name, dict(key[1]), value)
        for key, value in reg.counters.items():
            if key in live:
                name = prom_name(reg.full_name(key[0]))
                family(name, "counter").add_sample(name, dict(key[1]), value)
        now = reg.clock.monotonic()
        for key, summary in reg.summaries.items():
            if key not in live:
                continue
            name = prom_name(reg.full_name(key[0]))
            fam = family(name, "summary")
            labels = dict(key[1])
            for q, v in summary.quantiles(now).items():
                fam.add_sample(name, {**labels, "quantile": str(q)}, v)
            fam.add_sample(name + "_sum", labels, summary.total)
            fam.add_sample(name + "_count", labels, float(summary.count))
        yield from families.values()


def render_prometheus(reg: Registry, retention: float) -> bytes:
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(_Collector(reg, retention))
    text = generate_latest(collectors).decode()
    # prometheus-client names a counter family `X_total` in its HELP/TYPE lines; Consul's Go
    # client does not, and its samples (and every dashboard) use the bare `X`.
    return _COUNTER_HEADER.sub(r"# HELP \1 \2\n# TYPE \1 counter", text).encode()
