"""The metrics registry: counters, gauges and timing samples keyed by Consul's metric names.

It follows go-metrics, which Consul emits through: names are dotted keys without the prefix
(`raft.apply`); every emission lands in the current 10 s in-memory interval (what
`/v1/agent/metrics` shows), in cumulative series (what Prometheus scrapes) and in each sink
(statsd). The prefix and, for gauges, the host name are added when names are rendered
(`full_name`). Time comes from an injected clock, so intervals and expiry are tested without
sleeping.

Emitting only appends to a pending list (a fraction of a microsecond: it sits on the HTTP fast
path, DNS and Raft); `fold` adds the pending emissions to the series and hands them to the
sinks. The agent's telemetry loop folds every 100 ms and every reader folds first, so an
emission is at most that late in its interval.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pyconsul.clock import SYSTEM_CLOCK, Clock

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]

INTERVAL = 10.0  # go-metrics' in-memory sink interval, as Consul configures it
RETAIN = 60.0  # and how long it keeps past intervals
QUANTILE_WINDOW = 10.0  # Prometheus summaries report quantiles over the last 10 s (MaxAge)
QUANTILES = (0.5, 0.9, 0.99)
_WINDOW_CAP = 2048  # samples kept per series for quantiles; older ones fall off first
_PENDING_CAP = 50_000  # emissions held before folding in place (if the telemetry loop lags)


class Sink(Protocol):
    """Receives every emission as it happens (statsd, dogstatsd). Must not block."""

    def emit(self, kind: str, name: str, value: float, labels: Labels) -> None: ...


@dataclass(slots=True)
class Aggregate:
    """go-metrics' AggregateSample: what an interval keeps of a counter or a timer."""

    count: int = 0
    total: float = 0.0
    sum_sq: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    last: float = 0.0

    def ingest(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.sum_sq += value * value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.last = value

    def ingest_all(self, values: list[float]) -> None:
        self.count += len(values)
        self.total += sum(values)
        self.sum_sq += sum(v * v for v in values)
        self.min = min(self.min, min(values))
        self.max = max(self.max, max(values))
        self.last = values[-1]

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def stddev(self) -> float:
        if self.count < 2:
            return 0.0
        var = (self.sum_sq - self.total * self.total / self.count) / (self.count - 1)
        return math.sqrt(var) if var > 0 else 0.0


@dataclass(slots=True)
class Interval:
    start: float
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    counters: dict[SeriesKey, Aggregate] = field(default_factory=dict)
    samples: dict[SeriesKey, Aggregate] = field(default_factory=dict)


@dataclass(slots=True)
class Summary:
    """A cumulative timer: count and sum forever, recent values for the quantiles."""

    count: int = 0
    total: float = 0.0
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=_WINDOW_CAP))

    def quantiles(self, now: float) -> dict[float, float]:
        values = sorted(v for t, v in self.recent if now - t <= QUANTILE_WINDOW)
        if not values:
            return {q: math.nan for q in QUANTILES}
        return {q: values[min(len(values) - 1, int(q * len(values)))] for q in QUANTILES}


def labels_of(labels: Iterable[tuple[str, str]] | dict[str, str] | None) -> Labels:
    if not labels:
        return ()
    items = labels.items() if isinstance(labels, dict) else labels
    return tuple(sorted((str(k), str(v)) for k, v in items))


class Registry:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.prefix = "consul"
        self.hostname = ""  # set unless telemetry.disable_hostname: gauges then carry it in their name
        self.sinks: list[Sink] = []
        self.intervals: deque[Interval] = deque(maxlen=int(RETAIN / INTERVAL))
        self.intervals.append(Interval(self._interval_start(clock.time())))
        self.counters: dict[SeriesKey, float] = {}
        self.gauges: dict[SeriesKey, float] = {}
        self.summaries: dict[SeriesKey, Summary] = {}
        self.updated: dict[SeriesKey, float] = {}  # monotonic time of each series' last emission
        self.defined: set[SeriesKey] = set()  # declared series: never expire
        self.pending: list[tuple[str, str, float, Labels]] = []

    @staticmethod
    def _interval_start(now: float) -> float:
        return now - now % INTERVAL

    def _current(self) -> Interval:
        now = self.clock.time()
        cur = self.intervals[-1]
        if now - cur.start >= INTERVAL:
            cur = Interval(self._interval_start(now))
            self.intervals.append(cur)
        return cur

    def define(self, counters: Iterable[str], summaries: Iterable[str]) -> None:
        for name in counters:
            key = (name, ())
            self.counters.setdefault(key, 0.0)
            self.defined.add(key)
        for name in summaries:
            key = (name, ())
            self.summaries.setdefault(key, Summary())
            self.defined.add(key)

    # -- emitting: O(1) appends, folded later
    def incr_counter(self, name: str, value: float = 1.0, labels: Labels = ()) -> None:
        pending = self.pending
        pending.append(("c", name, value, labels))
        if len(pending) > _PENDING_CAP:
            self.fold()

    def add_sample(self, name: str, value_ms: float, labels: Labels = ()) -> None:
        pending = self.pending
        pending.append(("ms", name, value_ms, labels))
        if len(pending) > _PENDING_CAP:
            self.fold()

    def set_gauge(self, name: str, value: float, labels: Labels = ()) -> None:
        pending = self.pending
        pending.append(("g", name, value, labels))
        if len(pending) > _PENDING_CAP:
            self.fold()

    def measure_since(self, name: str, start_mono: float, labels: Labels = ()) -> None:
        """A timer in milliseconds since `start_mono` (this registry's monotonic clock)."""
        self.add_sample(name, (self.clock.monotonic() - start_mono) * 1000.0, labels)

    def fold(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        for sink in self.sinks:
            for kind, name, value, labels in pending:
                sink.emit(kind, name, value, labels)
        # One update per series, not per emission: a hot route emits thousands a second.
        groups: dict[tuple[str, str, Labels], list[float]] = {}
        for kind, name, value, labels in pending:
            values = groups.get((kind, name, labels))
            if values is None:
                groups[(kind, name, labels)] = [value]
            else:
                values.append(value)
        cur = self._current()
        mono = self.clock.monotonic()
        for (kind, name, labels), values in groups.items():
            key = (name, labels)
            self.updated[key] = mono
            if kind == "g":
                cur.gauges[key] = self.gauges[key] = values[-1]
                continue
            table = cur.counters if kind == "c" else cur.samples
            agg = table.get(key)
            if agg is None:
                agg = table[key] = Aggregate()
            agg.ingest_all(values)
            if kind == "c":
                self.counters[key] = self.counters.get(key, 0.0) + sum(values)
                continue
            summary = self.summaries.get(key)
            if summary is None:
                summary = self.summaries[key] = Summary()
            summary.count += len(values)
            summary.total += sum(values)
            summary.recent.extend((mono, v) for v in values[-_WINDOW_CAP:])

    # -- reading
    def full_name(self, name: str, gauge: bool = False) -> str:
        """`consul.raft.apply`; gauges get the host name after the prefix, as go-metrics'
        EnableHostname does (`consul.<host>.runtime.alloc_bytes`)."""
        parts = [p for p in (self.prefix, self.hostname if gauge else "", name) if p]
        return ".".join(parts)

    def display_interval(self) -> Interval:
        """The interval `/v1/agent/metrics` shows: the last complete one once there is one."""
        self.fold()
        self._current()
        return self.intervals[-2] if len(self.intervals) >= 2 else self.intervals[-1]

    def live(self, retention: float) -> set[SeriesKey]:
        """Series emitted within `retention` seconds (Prometheus drops the others)."""
        self.fold()
        now = self.clock.monotonic()
        return {k for k, t in self.updated.items() if now - t <= retention} | self.defined


METRICS = Registry()
