"""Gossip at size: the SWIM core simulated on a lossy network for 50, 500 and 5,000 members, and
real agents on loopback addresses converging.

    PYTHONPATH=$PWD python3 bench/gossip_scale.py [--sizes 50,500,5000] [--loss 0.05] [--real-agents 50]

Simulation (the real GossipCore and codec over tests/gossip/sim.py's network, simulated clock,
seeded; the event loop here keeps members' deadlines in a heap instead of scanning every member
per step, which is what makes thousands of members feasible — the protocol is untouched). For
each size:

- `formation`: every member joins the first; simulated seconds (and gossip rounds) until every
  member sees every other alive, capped by `--formation-cap` simulated seconds.
- `update`: on the formed cluster one member changes its tags; rounds until all have the new
  incarnation, next to the epidemic model's rounds for the same fanout, size and loss (memberlist
  piggybacks each update on `gossip_nodes` messages per `gossip_interval`).
- `traffic`: bytes sent per member per second (UDP and TCP) over `--steady` quiet simulated
  seconds, next to memberlist's ceiling for the configuration (full gossip packets each round,
  one probe per interval, push-pull at its scaled interval).
- `failure`: one member killed; simulated seconds until every live member marks it failed, next
  to Consul's published bound: memberlist's suspicion timeout suspicion_mult * log10(n) *
  probe_interval (stretched up to suspicion_max_timeout_mult times without confirmations), plus
  a probe round and the dissemination of the verdict.
- `wall_seconds`: real time the simulation of this size took.

Real agents (`--real-agents`, 0 to skip): one server and N-1 client agents, each on its own
loopback address, joining the server; seconds until every agent lists all N alive. Heavy: about
60 MB and some CPU per agent.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyconsul.gossip.config import GossipConfig, push_pull_scale, retransmit_limit, suspicion_timeout  # noqa: E402
from pyconsul.gossip.core import Address, Outgoing  # noqa: E402
from pyconsul.gossip.messages import Message, decode_packet, encode_packet  # noqa: E402
from pyconsul.gossip.state import NodeStatus  # noqa: E402
from tests.gossip.sim import SimNetwork  # noqa: E402
from tests.support.agents import AgentProcess, start_agent  # noqa: E402
from tests.support.ports import free_port, loopback  # noqa: E402


class ScaleSim(SimNetwork):
    """SimNetwork with a heap of member deadlines (one live entry per member) and byte counts."""

    def __init__(self, seed: int, loss: float, config: GossipConfig | None = None) -> None:
        super().__init__(seed, loss, config)
        self._deadlines: list[tuple[float, int, Address]] = []
        self._best: dict[Address, float] = {}
        self._seq = itertools.count()
        self.bytes_sent = 0
        self.wall_deadline = math.inf  # real time.monotonic() after which run_until gives up
        self.out_of_time = False

    def _schedule(self, addr: Address) -> None:
        d = self.nodes[addr].core.next_deadline()
        if d < self._best.get(addr, math.inf):
            self._best[addr] = d
            heapq.heappush(self._deadlines, (d, next(self._seq), addr))

    def _flush(self, addr: Address) -> None:
        super()._flush(addr)
        self._schedule(addr)

    def _deliver(self, src: Address, out: Outgoing) -> None:
        data = encode_packet(out.messages)
        self.bytes_sent += len(data)
        if out.reliable:
            self._at(self._latency(), lambda: self._receive_reliable(src, out.dest, data))
            return
        self.sent_udp += 1
        self.max_udp_bytes = max(self.max_udp_bytes, len(data))
        if self.rng.random() < self.loss:
            return
        self._at(self._latency(), lambda: self._receive_udp(src, out.dest, data))

    def _receive_reliable(self, src: Address, dest: Address, data: bytes) -> None:
        if dest in self.down or dest not in self.nodes or src in self.down or {src, dest} & self.deaf:
            return
        replies: list[Message] = self.nodes[dest].core.handle_packet(src, decode_packet(data), reliable=True)
        self._flush(dest)
        if replies:
            back = encode_packet(replies)
            self.bytes_sent += len(back)
            self._at(self._latency(), lambda: self._reply_reliable(src, dest, back))

    def run_until(self, done: Callable[[], bool], timeout: float, check_every: float = 0.2) -> bool:
        """As SimNetwork.run_until; also gives up (False) once `wall_budget` real seconds passed."""
        clock = self.clock
        end = clock.monotonic() + timeout
        for addr in self.nodes:
            if addr not in self.down:
                self._flush(addr)
        next_check = clock.monotonic()
        while True:
            now = clock.monotonic()
            if now >= next_check:
                if done():
                    return True
                if time.monotonic() > self.wall_deadline:
                    self.out_of_time = True
                    return False
                next_check = now + check_every
            t = min(self._deadlines[0][0] if self._deadlines else end,
                    self._queue[0][0] if self._queue else end, end, next_check)
            if t > now:
                clock.advance(t - now)
                now = t
            while self._queue and self._queue[0][0] <= now:
                _, _, fn = heapq.heappop(self._queue)
                fn()
            while self._deadlines and self._deadlines[0][0] <= now:
                at, _, addr = heapq.heappop(self._deadlines)
                if self._best.get(addr) != at:
                    continue  # superseded by an earlier entry
                del self._best[addr]
                if addr in self.down:
                    continue
                core = self.nodes[addr].core
                if core.next_deadline() <= now:
                    core.tick()
                    self._flush(addr)
                else:
                    self._schedule(addr)  # its deadline moved later meanwhile
            if now >= end:
                return done()


def epidemic_rounds(n: int, fanout: int, loss: float) -> int:
    """Rounds for one update to reach all but half a member in the push-gossip model: each
    informed member tells `fanout` random others per round, each message lost with `loss`."""
    informed = 1.0
    rounds = 0
    while n - informed > 0.5 and rounds < 1000:
        p_missed = (1 - fanout * (1 - loss) / max(n - 1, 1)) ** informed
        informed += (n - informed) * (1 - p_missed)
        rounds += 1
    return rounds


def views_alive(net: ScaleSim, n: int) -> bool:
    return all(sum(1 for m in c.nodes() if m.status in (NodeStatus.ALIVE, NodeStatus.SUSPECT)) == n
               for c in net.live())


def simulate(n: int, loss: float, seed: int, formation_cap: float, steady: float,
             wall_budget: float = math.inf) -> dict[str, Any]:
    wall = time.monotonic()
    cfg = GossipConfig()  # Consul's LAN defaults
    net = ScaleSim(seed, loss, cfg)
    net.wall_deadline = wall + wall_budget
    for i in range(n):
        net.add(f"m{i}", {"role": "node"}, host=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    t0 = net.clock.monotonic()
    for i in range(1, n):
        net.join(f"m{i}", "m0")
    formed = net.run_until(lambda: views_alive(net, n), formation_cap, check_every=1.0)
    took = net.clock.monotonic() - t0
    out: dict[str, Any] = {"members": n, "loss": loss, "formation": {
        "converged": formed, "simulated_s": round(took, 1), "gossip_rounds": round(took / cfg.gossip_interval),
        "cap_s": formation_cap}}
    if not formed:
        out["wall_seconds"] = round(time.monotonic() - wall, 1)
        out["out_of_wall_budget"] = net.out_of_time
        out["simulated_s_per_wall_s"] = round(took / max(out["wall_seconds"], 1e-3), 4)
        return out

    # One update spreading through a formed cluster.
    subject = net.core(f"m{n // 2}")
    subject.set_tags({"role": "node", "build": "2"})
    inc = subject.local.incarnation
    t0 = net.clock.monotonic()
    spread = net.run_until(lambda: all((m := c.get(subject.name)) is not None and m.incarnation >= inc
                                       for c in net.live()), 120, check_every=cfg.gossip_interval)
    took = net.clock.monotonic() - t0
    out["update"] = {"converged": spread, "simulated_s": round(took, 2),
                     "gossip_rounds": math.ceil(took / cfg.gossip_interval),
                     "model_rounds": epidemic_rounds(n, cfg.gossip_nodes, loss)}

    # Quiet traffic.
    net.bytes_sent = 0
    net.run_for(steady)
    per = net.bytes_sent / n / steady
    pp = push_pull_scale(cfg.push_pull_interval, n)
    state_bytes = 60 * n  # one member's entry in a push-pull, about
    ceiling = (cfg.gossip_nodes * cfg.udp_buffer_size / cfg.gossip_interval + 2 * 80 / cfg.probe_interval
               + 2 * state_bytes / pp)
    out["traffic"] = {"bytes_per_member_per_s": round(per), "memberlist_ceiling_bytes_per_s": round(ceiling),
                      "within_ceiling": per <= ceiling, "steady_s": steady}

    # One member fails.
    victim = f"m{n - 1}"
    net.kill(victim)
    t0 = net.clock.monotonic()
    detected = net.run_until(lambda: all((m := c.get(victim)) is not None and m.status is NodeStatus.DEAD
                                         for c in net.live()), 400, check_every=0.2)
    took = net.clock.monotonic() - t0
    s_min = suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval)
    s_max = s_min * cfg.suspicion_max_timeout_mult
    spread_s = retransmit_limit(cfg.retransmit_mult, n) * cfg.gossip_interval
    bound = 2 * cfg.probe_interval + s_max + spread_s
    out["failure"] = {"detected_by_all": detected, "simulated_s": round(took, 1),
                      "suspicion_timeout_min_s": round(s_min, 1), "suspicion_timeout_max_s": round(s_max, 1),
                      "published_bound_s": round(bound, 1), "within_bound": detected and took <= bound}
    out["wall_seconds"] = round(time.monotonic() - wall, 1)
    return out


def real_agents(count: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pyconsul-bench-gossip-"))
    agents: list[AgentProcess] = []
    serf = free_port()
    try:
        t0 = time.monotonic()
        server = start_agent(work, "-server", "-bootstrap", "-data-dir", str(work / "srv"), host=loopback(1),
                             dev=False, name="srv", ports={"serf_lan": serf}, wait=True)
        agents.append(server)
        for i in range(2, count + 1):
            agents.append(start_agent(work, "-data-dir", str(work / f"c{i}"), "-retry-join", f"{loopback(1)}:{serf}",
                                      host=loopback(i), dev=False, name=f"c{i}", ports={"serf_lan": serf},
                                      wait=False))
        started = time.monotonic()

        def all_see_all() -> bool:
            for a in agents:
                try:
                    members = a.get_json("/v1/agent/members")
                except (OSError, AssertionError, ValueError):
                    return False
                if sum(1 for m in members if m.get("Status") == 1) != count:
                    return False
            return True

        deadline = time.monotonic() + 300
        ok = False
        while time.monotonic() < deadline:
            if all_see_all():
                ok = True
                break
            time.sleep(0.5)
        end = time.monotonic()
        return {"agents": count, "converged": ok, "seconds_from_first_start": round(end - t0, 1),
                "seconds_from_last_start": round(end - started, 1),
                "rss_mib_total": round(sum(_rss(a.proc.pid) for a in agents if a.alive()), 1)}
    finally:
        for a in agents:
            a.stop()
        shutil.rmtree(work, ignore_errors=True)


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,500,5000", help="simulated cluster sizes, comma-separated")
    ap.add_argument("--loss", type=float, default=0.05, help="UDP packet loss in the simulation")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--formation-cap", type=float, default=300.0, help="simulated seconds allowed to form")
    ap.add_argument("--steady", type=float, default=20.0, help="quiet simulated seconds for the traffic figure")
    ap.add_argument("--wall-budget", type=float, default=1800.0,
                    help="real seconds one size may take; past it the size reports how far it got")
    ap.add_argument("--real-agents", type=int, default=50, help="real agents on loopbacks (0: skip)")
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "gossip_scale", "loadavg_1m_start": round(os.getloadavg()[0], 2),
                           "simulation": []}
    for n in (int(x) for x in args.sizes.split(",") if x.strip()):
        out["simulation"].append(simulate(n, args.loss, args.seed, args.formation_cap, args.steady,
                                          args.wall_budget))
        print(json.dumps(out["simulation"][-1]), file=sys.stderr, flush=True)
    if args.real_agents > 0:
        out["real_agents"] = real_agents(args.real_agents)
    out["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
