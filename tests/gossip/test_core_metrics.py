"""The gossip core's memberlist timers: probeNode on the core's own clock (answered probes take
the network's round trip, failed ones their whole window) and one memberlist.gossip per round."""

from __future__ import annotations

from pyconsul.telemetry import METRICS, Labels
from tests.gossip.sim import SimNetwork


class _Collect:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, float]] = []

    def emit(self, kind: str, name: str, value: float, labels: Labels) -> None:
        self.seen.append((kind, name, value))

    def flush(self) -> None:
        pass


def test_probe_and_gossip_timers_follow_what_the_protocol_did() -> None:
    sink = _Collect()
    METRICS.fold()
    METRICS.sinks.append(sink)  # type: ignore[arg-type]
    try:
        net = SimNetwork(3)
        for name in ("a", "b", "c"):
            net.add(name)
        net.join("b", "a")
        net.join("c", "a")
        net.run_for(10.0)
        METRICS.fold()
        answered = [v for k, n, v in sink.seen if n == "memberlist.probeNode"]
        cfg = net.config
        assert answered and all(0 <= v < cfg.probe_timeout * 1000 for v in answered), answered[:5]
        assert any(n == "memberlist.gossip" for _, n, _ in sink.seen)
        sink.seen.clear()
        net.kill("c")
        assert net.run_until(lambda: net.status("a", "c").name != "ALIVE", 30)
        METRICS.fold()
        probes = [v for _, n, v in sink.seen if n == "memberlist.probeNode"]
        # A probe of the dead member runs its whole window (probe interval, stretched by awareness).
        assert any(v >= cfg.probe_interval * 1000 * 0.99 for v in probes), probes
    finally:
        METRICS.sinks.remove(sink)  # type: ignore[arg-type]
